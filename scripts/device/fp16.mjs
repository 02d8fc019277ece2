// Carry the SAM models to the device at half size: float32 initializers become float16 bits in an
// unknown field (99) on `pack`, and float32 again (the fp16-rounded values) on `unpack`.
// node fp16.mjs pack|unpack in.onnx out.onnx
import {readFileSync, writeFileSync} from 'node:fs'
import {bytesField, concat, parseFields} from '../dist/src/sam/onnx-wire.js'
const [, , mode, input, output] = process.argv
const f32 = new Float32Array(1),
  u32 = new Uint32Array(f32.buffer)
function toHalf(x) {
  f32[0] = x
  const b = u32[0],
    s = (b >>> 16) & 0x8000,
    e = ((b >>> 23) & 0xff) - 127 + 15,
    m = b & 0x7fffff
  if (e >= 31) return s | 0x7c00
  if (e <= 0) {
    if (e < -10) return s
    const mm = (m | 0x800000) >>> (1 - e)
    return s | ((mm + 0x1000) >>> 13)
  }
  return (s | (e << 10) | (m >>> 13)) + ((m >>> 12) & 1)
}
function fromHalf(h) {
  const s = h & 0x8000 ? -1 : 1,
    e = (h >>> 10) & 0x1f,
    m = h & 0x3ff
  if (e === 0) return s * m * 2 ** -24
  if (e === 31) return m ? NaN : s * Infinity
  return s * (1 + m / 1024) * 2 ** (e - 15)
}
let saved = 0,
  worst = 0
function tensor(body) {
  const fields = parseFields(body)
  const type = fields.find((f) => f.no === 2)?.value
  return concat(
    fields.map((f) => {
      if (mode === 'pack' && f.no === 9 && type === 1 && f.body.length >= 4096) {
        const src = new Float32Array(f.body.slice().buffer),
          half = new Uint16Array(src.length)
        for (let i = 0; i < src.length; i++) {
          half[i] = toHalf(src[i])
          const back = fromHalf(half[i])
          if (Math.abs(src[i]) > 1e-4) worst = Math.max(worst, Math.abs(back - src[i]) / Math.abs(src[i]))
          if (!Number.isFinite(back)) throw new Error('fp16 overflow')
        }
        saved += src.length * 2
        return bytesField(99, new Uint8Array(half.buffer))
      }
      if (mode === 'unpack' && f.no === 99) {
        const half = new Uint16Array(f.body.slice().buffer),
          out = new Float32Array(half.length)
        for (let i = 0; i < half.length; i++) out[i] = fromHalf(half[i])
        return bytesField(9, new Uint8Array(out.buffer))
      }
      return f.raw
    }),
  )
}
// Constant nodes hold tensors too: NodeProto.attribute = 5, AttributeProto.t = 5
const attribute = (body) => concat(parseFields(body).map((f) => (f.no === 5 && f.wire === 2 ? bytesField(5, tensor(f.body)) : f.raw)))
const node = (body) => concat(parseFields(body).map((f) => (f.no === 5 ? bytesField(5, attribute(f.body)) : f.raw)))
const graph = (body) =>
  concat(parseFields(body).map((f) => (f.no === 5 ? bytesField(5, tensor(f.body)) : f.no === 1 ? bytesField(1, node(f.body)) : f.raw)))
const model = parseFields(new Uint8Array(readFileSync(input)))
writeFileSync(output, concat(model.map((f) => (f.no === 7 ? bytesField(7, graph(f.body)) : f.raw))))
console.log(JSON.stringify({mode, input, output, savedBytes: saved, worstRelErr: worst}))
