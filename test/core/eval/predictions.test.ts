import {describe, expect, it} from 'vitest'
import {detectFormat, readPredictionRow} from '../../../src/core/eval/predictions.js'

const user = (content: string) => ({role: 'user', content})
const assistant = (content: string) => ({role: 'assistant', content})

describe('prediction rows', () => {
  it('detects the three forms from a row', () => {
    expect(detectFormat({image_id: 1, ann_id: 2, answer: '<grid_1_1>'})).toBe('plain')
    expect(detectFormat({response: 'x', messages: []})).toBe('swift')
    expect(detectFormat({prompt: 'p', predict: 'x', label: 'y'})).toBe('llamafactory')
    expect(detectFormat({text: 'x'})).toBeNull()
    expect(detectFormat([1])).toBeNull()
  })

  it('plain: ids, split, task and refinement as written', () => {
    const row = readPredictionRow('plain', {image_id: 5, ann_ids: [7, 8], answer: 'a', refinement: 'r', split: 'testB', task: 'multi'}, 3)
    expect(row).toEqual({line: 3, text: 'a', imageId: 5, annIds: [7, 8], split: 'testB', task: 'multi', refinement: 'r'})
    expect(readPredictionRow('plain', {image_id: 5, ann_id: 7}, 4)).toBe('no "answer" string')
  })

  it('ms-swift ≥ 3: response appended to messages, the reference answer in labels', () => {
    const row = readPredictionRow(
      'swift',
      {
        response: '<offset><seg><OFF_0_0></seg></offset>',
        labels: '<offset><seg><DELETE></seg></offset>',
        messages: [
          user('<image>Please segment the cat.'),
          assistant('<seg><grid_1_1></seg>'),
          user('Please refine.'),
          assistant('<offset><seg><OFF_0_0></seg></offset>'),
        ],
        images: [{path: 'coco/000000000139.jpg', bytes: null}],
        split: 'val',
      },
      1,
    )
    expect(row).toEqual({
      line: 1,
      text: '<offset><seg><OFF_0_0></seg></offset>',
      split: 'val',
      imagePath: 'coco/000000000139.jpg',
      label: '<offset><seg><DELETE></seg></offset>',
      previous: '<seg><grid_1_1></seg>',
    })
  })

  it('ms-swift: ids the exported row carries are used as they are', () => {
    const row = readPredictionRow(
      'swift',
      {response: 'r', labels: 'l', messages: [user('<image>q'), assistant('r')], image_id: 139, ann_ids: [1, 2], task: 'multi'},
      1,
    )
    expect(row).toMatchObject({imageId: 139, annIds: [1, 2], task: 'multi', label: 'l'})
  })

  it('older ms-swift: the reference answer is still the last message', () => {
    const row = readPredictionRow(
      'swift',
      {response: '<grid_2_2>', messages: [user('<image>Point to it.'), assistant('<grid_3_3>')], images: ['a.jpg']},
      2,
    )
    expect(row).toMatchObject({text: '<grid_2_2>', label: '<grid_3_3>', imagePath: 'a.jpg'})
    expect(row).not.toHaveProperty('previous')
  })

  it('LLaMA-Factory: the answer from predict, the conversation from the reference record, the previous answer from the prompt', () => {
    const reference = {
      conversations: [
        {from: 'human', value: '<image>A previous segmentation of the cat is <seg><grid_1_1><grid_2_2></seg>. Please refine it.'},
        {from: 'gpt', value: '<offset><seg><OFF_0_0><DELETE></seg></offset>'},
      ],
      images: ['000000000139.jpg'],
    }
    // LLaMA-Factory decodes "label" with skip_special_tokens: the data file's answer is the one to trust
    const row = readPredictionRow(
      'llamafactory',
      {prompt: '…', predict: '<offset><seg><OFF_1_0><DELETE></seg></offset>', label: ''},
      9,
      reference,
    )
    expect(row).toEqual({
      line: 9,
      text: '<offset><seg><OFF_1_0><DELETE></seg></offset>',
      imagePath: '000000000139.jpg',
      label: '<offset><seg><OFF_0_0><DELETE></seg></offset>',
      previous: '<seg><grid_1_1><grid_2_2></seg>',
    })
    expect(readPredictionRow('llamafactory', {predict: 'x'}, 1)).toMatch(/--reference/)
  })

  it('a LLaVA record id names image, annotation and task', () => {
    const reference = {
      id: '139_2045_s12_box',
      image: 'x.jpg',
      conversations: [
        {from: 'human', value: '<image>\nBox it.'},
        {from: 'gpt', value: '<box><grid_1_1><grid_2_2></box>'},
      ],
    }
    expect(readPredictionRow('llamafactory', {predict: 'p'}, 1, reference)).toMatchObject({
      imageId: 139,
      annIds: [2045],
      task: 'box',
      imagePath: 'x.jpg',
    })
  })

  it.each([
    [{image_id: '25560'}, '"image_id" is not an integer (got "25560")'],
    [{image_id: 2.5}, '"image_id" is not an integer (got 2.5)'],
    [{ann_id: '29572'}, '"ann_id" is not an integer (got "29572")'],
    [{ann_ids: []}, '"ann_ids" is not a non-empty list of integers (got [])'],
    [{ann_ids: [1, 'x']}, '"ann_ids" is not a non-empty list of integers (got [1,"x"])'],
    [{split: 3}, '"split" is not a non-empty string (got 3)'],
    [{task: 'segm'}, '"task" is not one of seg, box, point, multi, refine (got "segm")'],
    [{answer_from: 'me'}, '"answer_from" is not "model" or "data" (got "me")'],
  ])('a field of the wrong type names itself: %j', (fields, reason) => {
    expect(readPredictionRow('plain', {image_id: 1, ann_id: 2, answer: 'a', ...fields}, 1)).toBe(reason)
    const swift = {response: 'r', messages: [user('<image>q'), assistant('r')], ...fields}
    expect(readPredictionRow('swift', swift, 1)).toBe(reason)
    const reference = {conversations: [{from: 'human', value: '<image>q'}], ...fields}
    expect(readPredictionRow('llamafactory', {predict: 'p'}, 1, reference)).toBe(`reference record: ${reason}`)
  })

  it('null is an absent field (a trainer fills a column some rows lack with null)', () => {
    const row = readPredictionRow(
      'swift',
      {response: 'r', labels: 'l', messages: [user('q')], image_id: null, task: null, answer_from: null},
      1,
    )
    expect(row).toEqual({line: 1, text: 'r', label: 'l'})
  })

  it("a getok export --predict record: its conversation id, and a follow-up says its earlier answer is the model's", () => {
    const record = {
      response: '<offset><box><OFF_0_0><OFF_1_0></box></offset>',
      messages: [user('<image>Please segment the cat.'), assistant('<box><grid_1_1><grid_5_5></box><seg></seg>'), user('Refine.')],
      id: '25560_48152_c_seg',
      image_id: 25560,
      ann_ids: [48152],
      split: 'val',
      task: 'seg',
      answer_from: 'model',
    }
    expect(readPredictionRow('swift', record, 1)).toMatchObject({
      conversationId: '25560_48152_c_seg',
      imageId: 25560,
      annIds: [48152],
      task: 'seg',
      answerFrom: 'model',
      previous: '<box><grid_1_1><grid_5_5></box><seg></seg>',
    })
  })
})
