import {readFileSync} from 'node:fs'
import * as ort from 'onnxruntime-node'
import {describe, expect, it} from 'vitest'
import {factorCrossAttention} from '../../../src/sam/rewrites/factor-attention.js'
import {
  bytesField,
  concat,
  floatTensor,
  int64Tensor,
  makeNode,
  parseFields,
  readNode,
  stringField,
  varintField,
} from '../../../src/sam/onnx-wire.js'
import {defaultModelFiles} from '../../../src/sam/model-files.js'
import {deriveAllMasksDecoder, rewriteForCpu} from '../../../src/sam/graphs.js'

const C = 6 // model width
const H = 2 // heads
const d = 4 // per head, so the export divides the scores by √4
const D = H * d
const NQ = 5
const NK = 3

const values = (n: number, seed: number) =>
  Float32Array.from({length: n}, (_, k) => Math.sin(k * 1.37 + seed) * 0.8 + Math.cos(k * 0.21 * seed))
const weights = {
  q: values(C * D, 1),
  bq: values(D, 2),
  k: values(C * D, 3),
  bk: values(D, 4),
  v: values(C * D, 5),
  bv: values(D, 6),
  o: values(D * C, 7),
  bo: values(C, 8),
}

/** One attention module as PyTorch exports SAM's: projections, heads split, scaled softmax, heads joined, out projection. */
function attentionModel(module: string, batch: {q: number; kv: number}, softmaxAxis = 3): Uint8Array {
  const valueInfo = (name: string, dims: number[]) => {
    const shape = dims.map((x) => bytesField(1, varintField(1, x)))
    return concat([stringField(1, name), bytesField(2, bytesField(1, concat([varintField(1, 1), bytesField(2, concat(shape))])))])
  }
  const at = (op: string) => `/${module}/${op}`
  const project = (x: string, p: string, perm: number[]) => [
    makeNode('MatMul', [x, `W${p}`], [`${p}m`], at(`${p}_proj/MatMul`)),
    makeNode('Add', [`b${p}`, `${p}m`], [`${p}p`], at(`${p}_proj/Add`)),
    makeNode('Reshape', [`${p}p`, 'heads'], [`${p}r`], at(`${p}/Reshape`)),
    makeNode('Transpose', [`${p}r`], [`${p}h`], at(`${p}/Transpose`), {perm: {ints: perm}}),
  ]
  const nodes = [
    ...project('xq', 'q', [0, 2, 1, 3]),
    ...project('xk', 'k', [0, 2, 3, 1]),
    ...project('xv', 'v', [0, 2, 1, 3]),
    makeNode('MatMul', ['qh', 'kh'], ['scores'], at('MatMul')),
    makeNode('Div', ['scores', 'scale'], ['scaled'], at('Div')),
    makeNode('Softmax', ['scaled'], ['probs'], at('Softmax'), {axis: {int: softmaxAxis}}),
    makeNode('MatMul', ['probs', 'vh'], ['o4'], at('MatMul_1')),
    makeNode('Transpose', ['o4'], ['ot'], at('Transpose_3'), {perm: {ints: [0, 2, 1, 3]}}),
    makeNode('Reshape', ['ot', 'joined'], ['of'], at('Reshape_3')),
    makeNode('MatMul', ['of', 'Wo'], ['om'], at('out_proj/MatMul')),
    makeNode('Add', ['bo', 'om'], ['y'], at('out_proj/Add')),
  ]
  const inits = [
    floatTensor('Wq', [C, D], weights.q),
    floatTensor('bq', [D], weights.bq),
    floatTensor('Wk', [C, D], weights.k),
    floatTensor('bk', [D], weights.bk),
    floatTensor('Wv', [C, D], weights.v),
    floatTensor('bv', [D], weights.bv),
    floatTensor('Wo', [D, C], weights.o),
    floatTensor('bo', [C], weights.bo),
    floatTensor('scale', [], Float32Array.of(Math.sqrt(d))),
    int64Tensor('heads', [4], [0, 0, H, d]),
    int64Tensor('joined', [3], [0, 0, D]),
  ]
  const graph = concat([
    ...nodes.map((n) => bytesField(1, n)),
    stringField(2, 'attention'),
    ...inits.map((t) => bytesField(5, t)),
    bytesField(11, valueInfo('xq', [batch.q, NQ, C])),
    bytesField(11, valueInfo('xk', [batch.kv, NK, C])),
    bytesField(11, valueInfo('xv', [batch.kv, NK, C])),
    bytesField(12, valueInfo('y', [Math.max(batch.q, batch.kv), NQ, C])),
  ])
  return concat([varintField(1, 8), bytesField(8, varintField(2, 17)), bytesField(7, graph)])
}

/** Attention by the book, in loops: softmax(Q_h·K_hᵀ/√d)·V_h per head, heads joined, then the out projection. */
function reference(xq: Float32Array, xk: Float32Array, xv: Float32Array, batch: number, qBatch: number, kvBatch: number): Float32Array {
  const proj = (x: Float32Array, off: number, n: number, w: Float32Array, b: Float32Array, cols: number) =>
    Array.from({length: n}, (_, r) =>
      Array.from(
        {length: cols},
        (_, c) => b[c] + Array.from({length: C}, (_, i) => x[off + r * C + i] * w[i * cols + c]).reduce((s, t) => s + t, 0),
      ),
    )
  const y = new Float32Array(batch * NQ * C)
  for (let b = 0; b < batch; b++) {
    const Q = proj(xq, (qBatch === 1 ? 0 : b) * NQ * C, NQ, weights.q, weights.bq, D)
    const K = proj(xk, (kvBatch === 1 ? 0 : b) * NK * C, NK, weights.k, weights.bk, D)
    const V = proj(xv, (kvBatch === 1 ? 0 : b) * NK * C, NK, weights.v, weights.bv, D)
    const O = Array.from({length: NQ}, () => new Array<number>(D).fill(0))
    for (let h = 0; h < H; h++)
      for (let i = 0; i < NQ; i++) {
        const s = K.map((k) => Array.from({length: d}, (_, j) => Q[i][h * d + j] * k[h * d + j]).reduce((a, t) => a + t, 0) / Math.sqrt(d))
        const e = s.map((v) => Math.exp(v - Math.max(...s)))
        const p = e.map((v) => v / e.reduce((a, t) => a + t, 0))
        for (let j = 0; j < d; j++) O[i][h * d + j] = p.reduce((a, pk, k) => a + pk * V[k][h * d + j], 0)
      }
    for (let i = 0; i < NQ; i++)
      for (let c = 0; c < C; c++) y[(b * NQ + i) * C + c] = weights.bo[c] + O[i].reduce((a, o, j) => a + o * weights.o[j * C + c], 0)
  }
  return y
}

async function run(
  model: Uint8Array,
  xq: Float32Array,
  xk: Float32Array,
  xv: Float32Array,
  qBatch: number,
  kvBatch: number,
): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(model, {intraOpNumThreads: 1, graphOptimizationLevel: 'all'})
  const t = (x: Float32Array, b: number, n: number) => new ort.Tensor('float32', x, [b, n, C])
  const y = (await session.run({xq: t(xq, qBatch, NQ), xk: t(xk, kvBatch, NK), xv: t(xv, kvBatch, NK)})).y.data as Float32Array
  await session.release()
  return y
}

const ops = (model: Uint8Array) =>
  parseFields(parseFields(model).find((f) => f.no === 7)!.body!)
    .filter((f) => f.no === 1)
    .map(readNode)

describe('factorCrossAttention', () => {
  const cases = [
    {module: 'cross_attn_image_to_token', varying: ['xq', 'xk', 'xv'], qBatch: 2, kvBatch: 2, gone: 'q_proj/MatMul'},
    // the first layer: image-token queries the same for every prompt (batch 1), only the out projection moves
    {module: 'cross_attn_image_to_token', varying: ['xk', 'xv'], qBatch: 1, kvBatch: 2, gone: 'out_proj/MatMul'},
    {module: 'final_attn_token_to_image', varying: ['xq', 'xk', 'xv'], qBatch: 2, kvBatch: 2, gone: 'k_proj/MatMul'},
  ]
  for (const c of cases) {
    it(`${c.module}, varying ${c.varying.join(' ')}: the reference attention's values with the image side's product gone`, async () => {
      const original = attentionModel(c.module, {q: c.qBatch, kv: c.kvBatch})
      const {model, factored} = factorCrossAttention(original, (v) => c.varying.includes(v))
      expect(factored).toBe(1)
      expect(ops(model).map((n) => n.name)).not.toContain(`/${c.module}/${c.gone}`)
      expect(ops(original).map((n) => n.name)).toContain(`/${c.module}/${c.gone}`)
      const xq = values(c.qBatch * NQ * C, 11)
      const xk = values(c.kvBatch * NK * C, 12)
      const xv = values(c.kvBatch * NK * C, 13)
      const [ours, theirs] = await Promise.all([
        run(model, xq, xk, xv, c.qBatch, c.kvBatch),
        run(original, xq, xk, xv, c.qBatch, c.kvBatch),
      ])
      const expected = reference(xq, xk, xv, 2, c.qBatch, c.kvBatch)
      expect(ours).toHaveLength(expected.length)
      for (let i = 0; i < expected.length; i++) {
        expect(ours[i]).toBeCloseTo(expected[i], 4)
        expect(theirs[i]).toBeCloseTo(expected[i], 4)
      }
    })
  }

  it('leaves alone token → image where its image side is the same for every prompt, other names, a softmax over another axis', () => {
    const fixed = attentionModel('cross_attn_token_to_image', {q: 2, kv: 1})
    expect(factorCrossAttention(fixed, (v) => v === 'xq')).toEqual({model: fixed, factored: 0})
    const other = attentionModel('self_attn', {q: 2, kv: 2})
    expect(factorCrossAttention(other, () => true)).toEqual({model: other, factored: 0})
    const overQueries = attentionModel('cross_attn_image_to_token', {q: 2, kv: 2}, 2)
    expect(factorCrossAttention(overQueries, () => true)).toEqual({model: overQueries, factored: 0})
  })

  it('factors four of the five cross-attentions of the shipped decoder: all but the first layer’s token → image', () => {
    const plain = deriveAllMasksDecoder(new Uint8Array(readFileSync(defaultModelFiles().decoder)))
    const names = ops(rewriteForCpu(plain)).map((n) => n.name)
    const modules = new Set(names.filter((n) => n.includes('_factored/')).map((n) => n.split('/out_proj/')[0]))
    expect([...modules].sort()).toEqual([
      '/transformer/final_attn_token_to_image',
      '/transformer/layers.0/cross_attn_image_to_token',
      '/transformer/layers.1/cross_attn_image_to_token',
      '/transformer/layers.1/cross_attn_token_to_image',
    ])
    // the first layer's image-side projections stay, to be computed once per image
    expect(names).toContain('/transformer/layers.0/cross_attn_token_to_image/k_proj/MatMul')
    expect(names).toContain('/transformer/layers.0/cross_attn_image_to_token/q_proj/MatMul')
    expect(names).not.toContain('/transformer/layers.1/cross_attn_token_to_image/k_proj/MatMul')
    expect(names).not.toContain('/transformer/layers.1/cross_attn_image_to_token/out_proj/MatMul')
  })
})
