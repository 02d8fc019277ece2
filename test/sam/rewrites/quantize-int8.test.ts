import {readFileSync} from 'node:fs'
import * as ort from 'onnxruntime-node'
import {describe, expect, it} from 'vitest'
import {quantizeColumns, quantizeInt8} from '../../../src/sam/rewrites/quantize-int8.js'
import {decoderGraphs} from '../../../src/sam/graphs.js'
import {defaultModelFiles} from '../../../src/sam/model-files.js'
import {bytesField, concat, floatTensor, makeNode, parseFields, readNode, stringField, varintField} from '../../../src/sam/onnx-wire.js'

const M = 5
const K = 16
const N = 6

const weights = () => Float32Array.from({length: K * N}, (_, k) => Math.sin(k * 0.7) * (1 + (k % 3)))

/** A [M,K] → MatMul(W [K,N]) or Gemm(A, W, b) → Y [M,N], weights from a fixed sequence. */
function smallModel(op: 'MatMul' | 'Gemm'): Uint8Array {
  const valueInfo = (name: string, dims: number[]) =>
    concat([
      stringField(1, name),
      bytesField(2, bytesField(1, concat([varintField(1, 1), bytesField(2, concat(dims.map((d) => bytesField(1, varintField(1, d)))))]))),
    ])
  const graph = concat([
    bytesField(1, makeNode(op, op === 'Gemm' ? ['A', 'W', 'b'] : ['A', 'W'], ['Y'], 'product')),
    stringField(2, 'small'),
    bytesField(5, floatTensor('W', [K, N], weights())),
    bytesField(
      5,
      floatTensor(
        'b',
        [N],
        Float32Array.from({length: N}, (_, k) => Math.sin(k * 0.4)),
      ),
    ),
    bytesField(11, valueInfo('A', [M, K])),
    bytesField(12, valueInfo('Y', [M, N])),
  ])
  return concat([varintField(1, 8), bytesField(8, varintField(2, 17)), bytesField(7, graph)])
}

const ops = (model: Uint8Array) =>
  parseFields(parseFields(model).find((f) => f.no === 7)!.body!)
    .filter((f) => f.no === 1)
    .map((f) => readNode(f).opType)

async function run(model: Uint8Array, a: Float32Array): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(model, {intraOpNumThreads: 1})
  const out = await session.run({A: new ort.Tensor('float32', a, [M, K])})
  await session.release()
  return out.Y.data as Float32Array
}

describe('quantizeInt8', () => {
  it('quantizes per column, symmetric: the example of its doc comment', () => {
    const {q, scale} = quantizeColumns(Float32Array.of(0.5, -2, 0.25, 1), 2, 2)
    expect([...q]).toEqual([127, -127, 64, 64])
    expect(scale[0]).toBeCloseTo(0.5 / 127, 8)
    expect(scale[1]).toBeCloseTo(2 / 127, 8)
  })

  for (const op of ['MatMul', 'Gemm'] as const) {
    it(`turns ${op} with a constant weight into DynamicQuantizeMatMul, within rounding of the float result`, async () => {
      const model = smallModel(op)
      const {model: q, quantized} = quantizeInt8(model)
      expect(quantized).toBe(1)
      expect(ops(q)).toEqual(['DynamicQuantizeMatMul'])
      const a = Float32Array.from({length: M * K}, (_, k) => Math.cos(k * 0.9) * 2)
      const [float, int8] = [await run(model, a), await run(q, a)]
      // the rounding bound: |Δy_mj| ≤ Σ_k |a_mk|·s_j/2 + (s_a/2)·Σ_k |w_kj| + K·(s_a/2)·(s_j/2), s_a = range(A)/255
      const w = weights()
      const {scale} = quantizeColumns(w, K, N)
      const sa = (Math.max(...a, 0) - Math.min(...a, 0)) / 255
      const bound = (m: number, j: number) => {
        let sum = 0
        for (let k = 0; k < K; k++) sum += (Math.abs(a[m * K + k]) * scale[j]) / 2 + (sa / 2) * Math.abs(w[k * N + j]) + (sa * scale[j]) / 4
        return sum
      }
      const worst = Math.max(...float.map((v, k) => Math.abs(v - int8[k])))
      for (let k = 0; k < M * N; k++) expect(Math.abs(float[k] - int8[k])).toBeLessThanOrEqual(bound(Math.floor(k / N), k % N) + 1e-5)
      expect(worst).toBeGreaterThan(0) // it is quantized, not the float graph again
    })
  }

  it('quantizes the shipped decoder’s CPU prompt side, which onnxruntime loads and runs', async () => {
    const files = defaultModelFiles()
    const prompt = decoderGraphs(new Uint8Array(readFileSync(files.decoder)), files.decoder, true).prompt
    const {model, quantized} = quantizeInt8(prompt)
    expect(quantized).toBe(ops(model).filter((op) => op === 'DynamicQuantizeMatMul').length)
    expect(quantized).toBeGreaterThanOrEqual(2) // at least the output upscaling's two Gemms
    const session = await ort.InferenceSession.create(model, {intraOpNumThreads: 1})
    expect(session.outputNames).toEqual(['all_low_res_masks', 'all_iou_predictions'])
    await session.release()
  })
})
