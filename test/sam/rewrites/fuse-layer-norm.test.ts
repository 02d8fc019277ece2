import {readFileSync} from 'node:fs'
import * as ort from 'onnxruntime-node'
import {describe, expect, it} from 'vitest'
import {fuseChannelLayerNorms} from '../../../src/sam/rewrites/fuse-layer-norm.js'
import {bytesField, concat, floatTensor, makeNode, parseFields, readNode, stringField, varintField} from '../../../src/sam/onnx-wire.js'
import {defaultModelFiles} from '../../../src/sam/model-files.js'

const C = 6
const H = 3
const W = 4

/** X [1,C,H,W] → LayerNorm2d as PyTorch exports it (SAM's): mean/var over axis 1, then w·x̂+b. */
function layerNorm2dModel(axis = 1): Uint8Array {
  const valueInfo = (name: string) => {
    const dims = [1, C, H, W].map((d) => bytesField(1, varintField(1, d)))
    return concat([stringField(1, name), bytesField(2, bytesField(1, concat([varintField(1, 1), bytesField(2, concat(dims))])))])
  }
  const mean = {axes: {ints: [axis]}, keepdims: {int: 1}}
  const nodes = [
    makeNode('ReduceMean', ['X'], ['m'], 'r1', mean),
    makeNode('Sub', ['X', 'm'], ['d'], 'sub'),
    makeNode('Pow', ['d', 'two'], ['p'], 'pow'),
    makeNode('ReduceMean', ['p'], ['v'], 'r2', mean),
    makeNode('Add', ['v', 'eps'], ['ve'], 'add'),
    makeNode('Sqrt', ['ve'], ['s'], 'sqrt'),
    makeNode('Div', ['d', 's'], ['n'], 'div'),
    makeNode('Mul', ['w', 'n'], ['nw'], 'mul'),
    makeNode('Add', ['nw', 'b'], ['Y'], 'bias'),
  ]
  const inits = [
    floatTensor('two', [], Float32Array.of(2)),
    floatTensor('eps', [], Float32Array.of(1e-6)),
    floatTensor(
      'w',
      [C, 1, 1],
      Float32Array.from({length: C}, (_, c) => 0.5 + c / 4),
    ),
    floatTensor(
      'b',
      [C, 1, 1],
      Float32Array.from({length: C}, (_, c) => c / 3 - 1),
    ),
  ]
  const graph = concat([
    ...nodes.map((n) => bytesField(1, n)),
    stringField(2, 'ln2d'),
    ...inits.map((t) => bytesField(5, t)),
    bytesField(11, valueInfo('X')),
    bytesField(12, valueInfo('Y')),
  ])
  return concat([varintField(1, 8), bytesField(8, varintField(2, 17)), bytesField(7, graph)])
}

const ops = (model: Uint8Array) =>
  parseFields(parseFields(model).find((f) => f.no === 7)!.body!)
    .filter((f) => f.no === 1)
    .map((f) => readNode(f).opType)

async function run(model: Uint8Array, x: Float32Array): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(model, {intraOpNumThreads: 1})
  const y = (await session.run({X: new ort.Tensor('float32', x, [1, C, H, W])})).Y.data as Float32Array
  await session.release()
  return y
}

describe('fuseChannelLayerNorms', () => {
  const x = Float32Array.from({length: C * H * W}, (_, k) => Math.sin(k * 1.7) * 3 + (k % 5))

  it('replaces the nine-op channel LayerNorm by Transpose → LayerNormalization → Transpose, same values', async () => {
    const {model, fused} = fuseChannelLayerNorms(layerNorm2dModel())
    expect(fused).toBe(1)
    expect(ops(model)).toEqual(['Transpose', 'LayerNormalization', 'Transpose'])
    const y = await run(model, x)
    // independent reference: per pixel, normalise the C channel values
    for (let p = 0; p < H * W; p++) {
      const v = Array.from({length: C}, (_, c) => x[c * H * W + p])
      const mu = v.reduce((a, b) => a + b, 0) / C
      const sigma = Math.sqrt(v.reduce((a, b) => a + (b - mu) ** 2, 0) / C + 1e-6)
      for (let c = 0; c < C; c++) expect(y[c * H * W + p]).toBeCloseTo(((v[c] - mu) / sigma) * (0.5 + c / 4) + c / 3 - 1, 4)
    }
    const unfused = await run(layerNorm2dModel(), x)
    for (let k = 0; k < y.length; k++) expect(y[k]).toBeCloseTo(unfused[k], 5)
  })

  it('leaves a mean over another axis alone', () => {
    const original = layerNorm2dModel(2)
    const {model, fused} = fuseChannelLayerNorms(original)
    expect(fused).toBe(0)
    expect(model).toBe(original)
  })

  it('finds the three LayerNorm2d of the shipped SAM decoder (mask downscaling ×2, output upscaling)', () => {
    const shipped = new Uint8Array(readFileSync(defaultModelFiles().decoder))
    const {model, fused} = fuseChannelLayerNorms(shipped)
    expect(fused).toBe(3)
    expect(ops(model).filter((o) => o === 'ReduceMean')).toHaveLength(0)
    expect(ops(shipped).filter((o) => o === 'ReduceMean')).toHaveLength(6)
  })
})
