/**
 * Run SAM's output upscaling on sub-pixels, channels last. As exported, the
 * decoder turns its 64×64 image tokens [B, 4096, C0] into channels-first
 * [B, C0, 64, 64] and upscales them ×4 in two 2×2-stride-2 transposed
 * convolutions, with a channel LayerNorm (transposed to channels-last and back)
 * and elementwise GELUs between; a product with the mask tokens' hypernetwork
 * outputs then makes the 256×256 logits:
 *
 *   Y1 = ConvT(X, W1) (2×2, stride 2)      Y2 = ConvT(GELU(LN(Y1)), W2)
 *   masks[m, p] = Σ_c hyper[m, c] · GELU(Y2)[c, p]
 *
 * A 2×2-stride-2 transposed convolution maps each input pixel to its own 2×2
 * output block: one matrix product per pixel, X[pixel, :] · W[C, (a, b, o)],
 * where (a, b) is the place in the block. So the same values come from two
 * matrix products on the tokens as they are, with the sub-pixel place carried
 * as rows: [B, 4096, C0] · [C0, 4·C1] → [B, 4·4096, C1] · [C1, 4·C2] →
 * [B, 16·4096, C2]. The LayerNorm is then over the last axis, the GELUs do not
 * care about layout, and one shuffle of the M×256×256 logits (not of the
 * C2×256×256 features) puts each sub-pixel in its place:
 * row = 4i + 2a + a', column = 4j + 2b + b'. onnxruntime's CPU matrix products
 * are faster than its transposed convolutions, and three transposes of the
 * feature maps go (docs/benchmarks.md). Same values to float rounding.
 */
import {SAM_LOW_RES} from '../../core/masks/sam-geometry.js'
import {
  type GraphNode,
  type OpenGraph,
  constantFloats,
  floatTensor,
  int64Tensor,
  isLastAxis,
  makeNode,
  nodeAttributes,
  openGraph,
  permIs,
  pruneGraph,
  readTensor,
  renameNode,
  rewriteGraph,
} from '../onnx-wire.js'

/** Ops that act on each element alone (with scalar constants), so any layout gives the same values. */
const ELEMENTWISE = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Erf',
  'Tanh',
  'Sigmoid',
  'Relu',
  'Sqrt',
  'Neg',
  'Abs',
  'Exp',
  'Identity',
  'Gelu',
])

interface ConvT2x2 {
  x: string
  /** weight [Cin, Cout·4] with column (a·2 + b)·Cout + o, and the bias repeated to match */
  w: Float32Array
  b: Float32Array
  cin: number
  cout: number
}

interface Elementwise {
  /** the region's input value (the one non-constant value it reads from outside) */
  from: string
  /** its nodes, in graph order */
  nodes: GraphNode[]
}

interface UpscalingMatch {
  /** the image tokens, channels last: [B, H·W, C0] */
  tokens: string
  hyper: string
  c1: ConvT2x2
  ln: {scale: string; bias: string; eps: number}
  gelu1: Elementwise
  c2: ConvT2x2
  gelu2: Elementwise
  y: string
  last: GraphNode
}

/** The graph with each node's place in it (for putting a region's nodes back in graph order). */
interface Indexed {
  g: OpenGraph
  order: Map<GraphNode, number>
}

/** A 2×2, stride-2 transposed convolution with constant weights and bias, its weight as one matrix. */
function convT({initializers}: OpenGraph, n: GraphNode | undefined): ConvT2x2 | undefined {
  if (n?.opType !== 'ConvTranspose' || n.inputs.length !== 3) return undefined
  const a = nodeAttributes(n)
  const is = (name: string, v: number[], fallback: number[]) => (a.get(name)?.ints ?? fallback).join() === v.join()
  const ok =
    is('kernel_shape', [2, 2], []) &&
    is('strides', [2, 2], [1, 1]) &&
    is('pads', [0, 0, 0, 0], [0, 0, 0, 0]) &&
    is('dilations', [1, 1], [1, 1]) &&
    (a.get('group')?.i ?? 1) === 1 &&
    !a.has('output_padding') &&
    !a.has('output_shape') &&
    !a.has('auto_pad')
  const w = initializers.get(n.inputs[1]) && readTensor(initializers.get(n.inputs[1])!)
  const b = initializers.get(n.inputs[2]) && readTensor(initializers.get(n.inputs[2])!)
  if (!ok || !w?.floats || !b?.floats || w.dims.length !== 4 || w.dims[2] !== 2 || w.dims[3] !== 2 || b.floats.length !== w.dims[1])
    return undefined
  const [cin, cout] = w.dims
  const wm = new Float32Array(cin * 4 * cout)
  for (let k = 0; k < cin; k++)
    for (let o = 0; o < cout; o++) for (let q = 0; q < 4; q++) wm[k * 4 * cout + q * cout + o] = w.floats[(k * cout + o) * 4 + q]
  const bm = Float32Array.from({length: 4 * cout}, (_, r) => b.floats![r % cout])
  return {x: n.inputs[0], w: wm, b: bm, cin, cout}
}

/** The elementwise nodes between a value made by `start` (the region's input) and `to`, or undefined. */
function elementwise({g, order}: Indexed, to: string, start: (n: GraphNode) => boolean): Elementwise | undefined {
  const region = new Set<GraphNode>()
  let from: string | undefined
  const stack = [to]
  while (stack.length > 0) {
    const v = stack.pop()!
    const n = g.producer.get(v)
    if (n && start(n)) {
      if (from !== undefined && from !== v) return undefined
      from = v
    } else if (n && ELEMENTWISE.has(n.opType)) {
      if (region.has(n)) continue
      region.add(n)
      for (const i of n.inputs) if (constantFloats(g, i)?.length !== 1) stack.push(i)
    } else return undefined
  }
  return from === undefined ? undefined : {from, nodes: [...region].sort((p, q) => order.get(p)! - order.get(q)!)}
}

/** Back from the mask product: GELU, ConvT, GELU, LayerNorm between transposes, ConvT, tokens as a grid. */
function matchUpscaling(at: Indexed, mm: GraphNode): UpscalingMatch | undefined {
  const {producer} = at.g
  const flat = producer.get(mm.inputs[1])
  if (flat?.opType !== 'Reshape') return undefined
  const gelu2 = elementwise(at, flat.inputs[0], (n) => n.opType === 'ConvTranspose')
  const c2 = gelu2 && convT(at.g, producer.get(gelu2.from))
  const gelu1 = c2 && elementwise(at, c2.x, (n) => permIs(n, [0, 3, 1, 2]))
  const sandwich = gelu1 && producer.get(gelu1.from)
  const norm = sandwich && producer.get(sandwich.inputs[0])
  const nhwc =
    norm?.opType === 'LayerNormalization' && isLastAxis(norm, 4) && norm.inputs.length === 3 ? producer.get(norm.inputs[0]) : undefined
  const c1 = nhwc && permIs(nhwc, [0, 2, 3, 1]) ? convT(at.g, producer.get(nhwc.inputs[0])) : undefined
  const grid = c1 && producer.get(c1.x)
  const tokens = grid?.opType === 'Reshape' ? producer.get(grid.inputs[0]) : undefined
  if (!c1 || !c2 || !gelu1 || !gelu2 || !norm || !tokens || !permIs(tokens, [0, 2, 1]) || c1.cout !== c2.cin) return undefined
  const eps = nodeAttributes(norm).get('epsilon')?.f ?? 1e-5
  const ln = {scale: norm.inputs[1], bias: norm.inputs[2], eps}
  return {tokens: tokens.inputs[0], hyper: mm.inputs[0], c1, ln, gelu1, c2, gelu2, y: mm.outputs[0], last: mm}
}

export function subpixelUpscaling(model: Uint8Array): {model: Uint8Array; rewritten: number} {
  const g = openGraph(model)
  if (!g) return {model, rewritten: 0}
  const at: Indexed = {g, order: new Map(g.nodes.map((n, k) => [n, k]))}
  const replace = new Map<GraphNode, Uint8Array[]>()
  const tensors: Uint8Array[] = []
  for (const n of g.nodes) {
    const m = n.opType === 'MatMul' ? matchUpscaling(at, n) : undefined
    if (!m) continue
    const built = subpixelNodes(m)
    replace.set(m.last, built.nodes)
    tensors.push(...built.tensors)
  }
  // the convolutions, the LayerNorm's transposes and the shape arithmetic they needed go
  return replace.size === 0 ? {model, rewritten: 0} : {model: pruneGraph(rewriteGraph(g, replace, tensors)), rewritten: replace.size}
}

function subpixelNodes(m: UpscalingMatch): {nodes: Uint8Array[]; tensors: Uint8Array[]} {
  const id = `${m.y}_subpixel`
  const nodes: Uint8Array[] = []
  const node = (op: string, inputs: string[], output: string, attrs = {}) => {
    nodes.push(makeNode(op, inputs, [`${id}/${output}`], `${id}/${output}`, attrs))
    return `${id}/${output}`
  }
  /** the region's nodes again, reading `input` where they read the region's input */
  const copy = (region: Elementwise, input: string, tag: string) => {
    const inside = new Set(region.nodes.flatMap((n) => n.outputs))
    const rename = (v: string) => (v === region.from ? input : inside.has(v) ? `${id}/${tag}/${v}` : v)
    for (const n of region.nodes) nodes.push(renameNode(n, rename, `${id}/${tag}/${n.name}`))
    return rename(region.nodes.at(-1)!.outputs[0])
  }
  const {c1, c2} = m
  const side = SAM_LOW_RES / 4 // the token grid: 64×64 image tokens make the 256×256 logits
  const tensors = [
    floatTensor(`${id}/W1`, [c1.cin, 4 * c1.cout], c1.w),
    floatTensor(`${id}/b1`, [4 * c1.cout], c1.b),
    floatTensor(`${id}/W2`, [c2.cin, 4 * c2.cout], c2.w),
    floatTensor(`${id}/b2`, [4 * c2.cout], c2.b),
    int64Tensor(`${id}/tokens_shape`, [2], [-1, c1.cin]),
    int64Tensor(`${id}/rows1`, [2], [-1, c1.cout]),
    int64Tensor(`${id}/rows2`, [3], [-1, 16 * side * side, c2.cout]),
    int64Tensor(`${id}/blocks`, [8], [0, 0, side, side, 2, 2, 2, 2]),
    int64Tensor(`${id}/flat`, [3], [0, 0, -1]),
  ]
  // Explicit two-dimensional Gemms with their bias: on three-dimensional products with a dynamic batch,
  // onnxruntime fuses the bias into the GELU instead (BiasGelu), measured three times slower here.
  // tokens [B·HW, C0] → sub-pixel rows [B·4·HW, C1], normalised over C1, GELU
  const y1 = node(
    'Reshape',
    [node('Gemm', [node('Reshape', [m.tokens, `${id}/tokens_shape`], 'tokens'), `${id}/W1`, `${id}/b1`], 'y1'), `${id}/rows1`],
    'y1_rows',
  )
  const ln = node('LayerNormalization', [y1, m.ln.scale, m.ln.bias], 'ln', {axis: {int: 1}, epsilon: {float: m.ln.eps}})
  const g1 = copy(m.gelu1, ln, 'gelu1')
  // → [B·16·HW, C2] as [B, 16·HW, C2], GELU
  const g2 = copy(m.gelu2, node('Gemm', [g1, `${id}/W2`, `${id}/b2`], 'y2'), 'gelu2')
  // masks [B, M, 16·HW] in (i, j, a, b, a', b') order, then shuffled to rows (i, a, a') and columns (j, b, b')
  const u = node('Transpose', [node('Reshape', [g2, `${id}/rows2`], 'u')], 'u_t', {perm: {ints: [0, 2, 1]}})
  const masks = node('Reshape', [node('MatMul', [m.hyper, u], 'masks'), `${id}/blocks`], 'masks_blocks')
  const placed = node('Transpose', [masks], 'masks_placed', {perm: {ints: [0, 1, 2, 4, 6, 3, 5, 7]}})
  nodes.push(makeNode('Reshape', [placed, `${id}/flat`], [m.y], `${id}/out`))
  return {nodes, tensors}
}
