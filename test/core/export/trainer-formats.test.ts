import {describe, expect, it} from 'vitest'
import type {Conversation} from '../../../src/core/export/conversations.js'
import {
  EXPORT_FORMATS,
  dataFileName,
  imageTagCount,
  llamaFactoryDatasetInfo,
  recordTexts,
  toTrainerRecord,
  trainerHints,
} from '../../../src/core/export/trainer-formats.js'

/**
 * Each trainer's own example record, as its documentation prints it (see
 * docs/export.md for the sources). Our records must have the same fields with
 * the same types, nothing more.
 */
const DOCUMENTED = {
  // ms-swift docs/source_en/Customization/Custom-dataset.md, "Multimodal" (SFT) and the "loss" field example
  swift: {
    messages: [
      {role: 'user', content: '<image><image>What is the difference between the two images?'},
      {role: 'assistant', content: 'The first one is a kitten, and the second one is a puppy.'},
    ],
    images: ['/xxx/x.jpg', '/xxx/x.png'],
  },
  swiftLoss: {role: 'assistant', content: 'Hi, how can I help you?', loss: false},
  // LLaMA-Factory data/README.md, sharegpt "Multimodal Image Dataset"
  llamafactory: {
    conversations: [
      {from: 'human', value: '<image>user instruction'},
      {from: 'gpt', value: 'model response'},
    ],
    images: ['image path (required)'],
  },
  // LLaVA docs/Finetune_Custom_Data.md
  llava: {
    id: '997bb945-628d-4724-b370-b84de974a19f',
    image: 'part-000001/997bb945-628d-4724-b370-b84de974a19f.jpg',
    conversations: [
      {from: 'human', value: '<image>\nWrite a prompt for Stable Diffusion to generate this image.'},
      {from: 'gpt', value: 'a beautiful painting of chernobyl'},
    ],
  },
  // Qwen qwen-vl-finetune/README.md, "Single Image Example"
  qwen: {
    image: 'images/001.jpg',
    conversations: [
      {from: 'human', value: "<image>\nWhat's the main object in this picture?"},
      {from: 'gpt', value: 'A red apple on a wooden table'},
    ],
  },
}

/** The type skeleton of a JSON value: keys (sorted) with the skeleton of their values; arrays by their first element. */
function shapeOf(v: unknown): unknown {
  if (Array.isArray(v)) return [shapeOf(v[0])]
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, shapeOf((v as Record<string, unknown>)[k])]),
    )
  return typeof v
}

const SEG: Conversation = {
  id: '25560_48152_c_seg',
  task: 'seg',
  split: 'train',
  image: '000000025560.jpg',
  imageId: 25560,
  annIds: [48152],
  expression: 'the cat',
  expressionSource: 'category',
  turns: [{user: 'Please segment the cat.', assistant: '<seg><grid_8_8></seg>', train: true}],
}
const REFINE: Conversation = {
  ...SEG,
  id: '25560_48152_c_refine',
  task: 'refine',
  turns: [
    {user: 'Please segment the cat.', assistant: '<seg><grid_3_4><grid_8_8></seg>', train: false},
    {user: 'Please refine the segmentation with offset tokens.', assistant: '<offset><seg><DELETE><OFF_0_0></seg></offset>', train: true},
  ],
}

describe('records have the documented shape of each trainer', () => {
  it('ms-swift: messages (role, content) and images; an untrained answer carries "loss": false', () => {
    const r = toTrainerRecord('swift', SEG, '000000025560.jpg')
    expect(shapeOf(r)).toEqual(shapeOf(DOCUMENTED.swift))
    expect(r).toEqual({
      messages: [
        {role: 'user', content: '<image>Please segment the cat.'},
        {role: 'assistant', content: '<seg><grid_8_8></seg>'},
      ],
      images: ['000000025560.jpg'],
    })
    const two = toTrainerRecord('swift', REFINE, 'x.jpg') as {messages: object[]}
    expect(two.messages.map((m) => Object.keys(m).length)).toEqual([2, 3, 2, 2])
    expect(shapeOf(two.messages[1])).toEqual(shapeOf(DOCUMENTED.swiftLoss))
    expect((two.messages[1] as {loss?: boolean}).loss).toBe(false)
  })

  it('LLaMA-Factory: sharegpt conversations (from, value) and images', () => {
    const r = toTrainerRecord('llamafactory', SEG, 'a/000000025560.jpg')
    expect(shapeOf(r)).toEqual(shapeOf(DOCUMENTED.llamafactory))
    expect(r).toEqual({
      conversations: [
        {from: 'human', value: '<image>Please segment the cat.'},
        {from: 'gpt', value: '<seg><grid_8_8></seg>'},
      ],
      images: ['a/000000025560.jpg'],
    })
  })

  it('LLaVA: id, image and conversations, "<image>\\n" first', () => {
    const r = toTrainerRecord('llava', SEG, '000000025560.jpg')
    expect(shapeOf(r)).toEqual(shapeOf(DOCUMENTED.llava))
    expect(r).toEqual({
      id: '25560_48152_c_seg',
      image: '000000025560.jpg',
      conversations: [
        {from: 'human', value: '<image>\nPlease segment the cat.'},
        {from: 'gpt', value: '<seg><grid_8_8></seg>'},
      ],
    })
  })

  it('Qwen-VL fine-tuning: image and conversations, "<image>\\n" first', () => {
    const r = toTrainerRecord('qwen', SEG, '000000025560.jpg')
    expect(shapeOf(r)).toEqual(shapeOf(DOCUMENTED.qwen))
    expect(r).toEqual({
      image: '000000025560.jpg',
      conversations: [
        {from: 'human', value: '<image>\nPlease segment the cat.'},
        {from: 'gpt', value: '<seg><grid_8_8></seg>'},
      ],
    })
  })

  it.each(EXPORT_FORMATS)('%s: one <image> tag, in the first user turn only; human and assistant alternate', (format) => {
    const r = toTrainerRecord(format, REFINE, 'x.jpg')
    expect(imageTagCount(r)).toBe(1)
    const texts = recordTexts(r)
    expect(texts.length).toBe(4)
    expect(texts[0].startsWith('<image>')).toBe(true)
    const roles = 'messages' in r ? r.messages.map((m) => m.role) : r.conversations.map((t) => t.from)
    expect(roles).toEqual('messages' in r ? ['user', 'assistant', 'user', 'assistant'] : ['human', 'gpt', 'human', 'gpt'])
  })
})

describe('files and hints', () => {
  it('names one data file per split: a JSON array for LLaVA, JSONL elsewhere', () => {
    expect(EXPORT_FORMATS.map((f) => dataFileName(f, 'val'))).toEqual([
      'swift-val.jsonl',
      'llamafactory-val.jsonl',
      'llava-val.json',
      'qwen-val.jsonl',
    ])
  })

  it('writes the dataset_info.json entry LLaMA-Factory documents for a multimodal sharegpt file', () => {
    expect(llamaFactoryDatasetInfo('getok', [{split: 'train', file: 'llamafactory-train.jsonl'}])).toEqual({
      getok_train: {file_name: 'llamafactory-train.jsonl', formatting: 'sharegpt', columns: {messages: 'conversations', images: 'images'}},
    })
  })

  it('names the flags that add the vocabulary and train its rows', () => {
    const h = {
      out: '/data/x',
      files: [
        {split: 'train', file: 'swift-train.jsonl'},
        {split: 'val', file: 'swift-val.jsonl'},
      ],
      imageRoot: null,
    }
    expect(trainerHints('swift', h).join('\n')).toMatch(
      /--dataset \/data\/x\/swift-train\.jsonl --val_dataset \/data\/x\/swift-val\.jsonl --new_special_tokens \/data\/x\/vocab\.txt[\s\S]*ROOT_IMAGE_DIR[\s\S]*--modules_to_save embed_tokens lm_head/,
    )
    expect(trainerHints('llamafactory', h).join('\n')).toMatch(
      /new_special_tokens_config: \/data\/x\/vocab\.yaml[\s\S]*media_dir[\s\S]*resize_vocab/,
    )
    expect(trainerHints('llava', h).join('\n')).toMatch(/--data_path \/data\/x\/swift-train\.jsonl --image_folder/)
    expect(trainerHints('qwen', {...h, imageRoot: '/coco'}).join('\n')).toMatch(
      /"annotation_path": "\/data\/x\/swift-train\.jsonl", "data_path": ""/,
    )
  })
})
