import {readFileSync} from 'node:fs'
import * as ort from 'onnxruntime-node'
import {describe, expect, it} from 'vitest'
import {factorCrossAttention} from '../../../src/sam/rewrites/factor-attention.js'
import {fuseChannelLayerNorms} from '../../../src/sam/rewrites/fuse-layer-norm.js'
import {bytesField, concat, floatTensor, int64Tensor, makeNode, openGraph, stringField, varintField} from '../../../src/sam/onnx-wire.js'
import {defaultModelFiles} from '../../../src/sam/model-files.js'
import {deriveAllMasksDecoder, rewriteForCpu} from '../../../src/sam/graphs.js'
import {subpixelUpscaling} from '../../../src/sam/rewrites/subpixel-upscaling.js'

// SAM's upscaling tail as the export writes it (after our LayerNorm fusion), with small channel
// counts: tokens S [B, 64·64, C0], mask-token weights H [B, M, C2] → logits [B, M, 256·256].
const [C0, C1, C2, M, SIDE] = [8, 4, 3, 2, 64]
const wave = (n: number, scale: number, seed: number) => Float32Array.from({length: n}, (_, k) => Math.sin(k * 12.9898 + seed) * scale)

function tailModel(conv = {kernel: 2, stride: 2}): Uint8Array {
  const k = conv.kernel
  const valueInfo = (name: string, dims: number[]) =>
    concat([
      stringField(1, name),
      bytesField(2, bytesField(1, concat([varintField(1, 1), bytesField(2, concat(dims.map((d) => bytesField(1, varintField(1, d)))))]))),
    ])
  const gelu = (x: string, id: string) => [
    makeNode('Div', [x, 'sqrt2'], [`${id}_d`], `${id}_d`),
    makeNode('Erf', [`${id}_d`], [`${id}_e`], `${id}_e`),
    makeNode('Add', [`${id}_e`, 'one'], [`${id}_a`], `${id}_a`),
    makeNode('Mul', [x, `${id}_a`], [`${id}_m`], `${id}_m`),
    makeNode('Mul', [`${id}_m`, 'half'], [`${id}`], `${id}_h`),
  ]
  const convT = {kernel_shape: {ints: [k, k]}, strides: {ints: [conv.stride, conv.stride]}}
  const nodes = [
    makeNode('Transpose', ['S'], ['s_t'], 's_t', {perm: {ints: [0, 2, 1]}}),
    makeNode('Reshape', ['s_t', 'grid'], ['x'], 'grid'),
    makeNode('ConvTranspose', ['x', 'W1', 'b1'], ['y1'], 'up1', convT),
    makeNode('Transpose', ['y1'], ['y1_nhwc'], 'nhwc', {perm: {ints: [0, 2, 3, 1]}}),
    makeNode('LayerNormalization', ['y1_nhwc', 'gamma', 'beta'], ['ln'], 'ln', {axis: {int: 3}, epsilon: {float: 1e-6}}),
    makeNode('Transpose', ['ln'], ['ln_nchw'], 'nchw', {perm: {ints: [0, 3, 1, 2]}}),
    ...gelu('ln_nchw', 'g1'),
    makeNode('ConvTranspose', ['g1', 'W2', 'b2'], ['y2'], 'up2', convT),
    ...gelu('y2', 'g2'),
    makeNode('Reshape', ['g2', 'flat'], ['u'], 'flat'),
    makeNode('MatMul', ['H', 'u'], ['Y'], 'masks'),
  ]
  const inits = [
    floatTensor('W1', [C0, C1, k, k], wave(C0 * C1 * k * k, 0.3, 1)),
    floatTensor('b1', [C1], wave(C1, 0.2, 2)),
    floatTensor(
      'gamma',
      [C1],
      wave(C1, 0.3, 3).map((v) => 1 + v),
    ),
    floatTensor('beta', [C1], wave(C1, 0.1, 4)),
    floatTensor('W2', [C1, C2, k, k], wave(C1 * C2 * k * k, 0.5, 5)),
    floatTensor('b2', [C2], wave(C2, 0.2, 6)),
    floatTensor('sqrt2', [], Float32Array.of(Math.SQRT2)),
    floatTensor('one', [], Float32Array.of(1)),
    floatTensor('half', [], Float32Array.of(0.5)),
    int64Tensor('grid', [4], [0, C0, SIDE, SIDE]),
    int64Tensor('flat', [3], [0, C2, -1]),
  ]
  const graph = concat([
    ...nodes.map((n) => bytesField(1, n)),
    stringField(2, 'upscaling'),
    ...inits.map((t) => bytesField(5, t)),
    bytesField(11, valueInfo('S', [2, SIDE * SIDE, C0])),
    bytesField(11, valueInfo('H', [2, M, C2])),
    bytesField(12, valueInfo('Y', [2, M, 16 * SIDE * SIDE])), // as run: kernel 2, stride 2
  ])
  return concat([varintField(1, 8), bytesField(8, varintField(2, 17)), bytesField(7, graph)])
}

const ops = (model: Uint8Array) => openGraph(model)!.nodes.map((n) => n.opType)

async function run(model: Uint8Array, s: Float32Array, h: Float32Array): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(model, {intraOpNumThreads: 1})
  const y = (await session.run({S: new ort.Tensor('float32', s, [2, SIDE * SIDE, C0]), H: new ort.Tensor('float32', h, [2, M, C2])})).Y
    .data as Float32Array
  await session.release()
  return y
}

describe('subpixelUpscaling', () => {
  const s = wave(2 * SIDE * SIDE * C0, 1, 7)
  const h = wave(2 * M * C2, 1, 8)

  it('runs the two transposed convolutions as matrix products on sub-pixels: the same logits, in the same places', async () => {
    const original = tailModel()
    const {model, rewritten} = subpixelUpscaling(original)
    expect(rewritten).toBe(1)
    expect(ops(model)).not.toContain('ConvTranspose')
    expect(ops(model).filter((o) => o === 'Transpose')).toHaveLength(2) // the mask tokens' and the one shuffle of the logits
    const [want, got] = await Promise.all([run(original, s, h), run(model, s, h)])
    expect(got.length).toBe(want.length)
    let maxDiff = 0
    for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(want[i] - got[i]))
    expect(maxDiff).toBeLessThan(1e-5)
    // and against the definition at one output pixel: row 4i + 2a + a', column 4j + 2b + b'
    const [b, m, i, a, a2, j, c, c2] = [1, 1, 37, 1, 0, 5, 0, 1]
    const w1 = wave(C0 * C1 * 4, 0.3, 1),
      b1 = wave(C1, 0.2, 2),
      gamma = wave(C1, 0.3, 3).map((v) => 1 + v),
      beta = wave(C1, 0.1, 4)
    const w2 = wave(C1 * C2 * 4, 0.5, 5),
      b2 = wave(C2, 0.2, 6)
    const gelu = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2))
    const y1 = Array.from(
      {length: C1},
      (_, o) =>
        b1[o] +
        Array.from({length: C0}, (_, k) => s[(b * SIDE * SIDE + i * SIDE + j) * C0 + k] * w1[((k * C1 + o) * 2 + a) * 2 + c]).reduce(
          (p, q) => p + q,
          0,
        ),
    )
    const mean = y1.reduce((p, q) => p + q, 0) / C1
    const sd = Math.sqrt(y1.reduce((p, q) => p + (q - mean) ** 2, 0) / C1 + 1e-6)
    const g1 = y1.map((v, o) => gelu(((v - mean) / sd) * gamma[o] + beta[o]))
    const g2 = Array.from({length: C2}, (_, o) => gelu(b2[o] + g1.reduce((p, v, k) => p + v * w2[((k * C2 + o) * 2 + a2) * 2 + c2], 0)))
    const logit = g2.reduce((p, v, o) => p + v * h[(b * M + m) * C2 + o], 0)
    const pixel = (4 * i + 2 * a + a2) * 4 * SIDE + 4 * j + 2 * c + c2
    expect(got[(b * M + m) * 16 * SIDE * SIDE + pixel]).toBeCloseTo(logit, 4)
  })

  it('leaves other transposed convolutions alone', () => {
    for (const conv of [
      {kernel: 3, stride: 2},
      {kernel: 2, stride: 1},
    ]) {
      const original = tailModel(conv)
      const {model, rewritten} = subpixelUpscaling(original)
      expect(rewritten).toBe(0)
      expect(model).toBe(original)
    }
  })

  it('finds the shipped decoder’s output upscaling, once, and the CPU graph keeps no transposed convolution', () => {
    const plain = deriveAllMasksDecoder(new Uint8Array(readFileSync(defaultModelFiles().decoder)))
    expect(ops(plain).filter((o) => o === 'ConvTranspose')).toHaveLength(2)
    const fused = fuseChannelLayerNorms(plain).model
    expect(subpixelUpscaling(factorCrossAttention(fused, () => false).model).rewritten).toBe(1)
    // without the LayerNorm fusion the pattern is not there
    expect(subpixelUpscaling(plain).rewritten).toBe(0)
    expect(ops(rewriteForCpu(plain))).not.toContain('ConvTranspose')
  })
})

/** erf by Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7), an independent check of onnxruntime's. */
function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x))
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x)
  return Math.sign(x) * y
}
