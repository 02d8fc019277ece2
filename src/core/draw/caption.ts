/** The caption band below the photo: the lines, cut to fit, and a key to the marks where it fits. */
import {CHAR_EM, COLOURS, FONT, type Layout, num} from './picture.js'

/** Caption lines on an opaque band below the photo; the first line bold, lines cut to fit with "…". */
export function captionSvg(lines: readonly string[], layout: Layout, promptBox = false): string {
  const {width, height, fontSize: fs, captionHeight} = layout
  const pad = Math.round(fs * 0.6)
  const maxChars = Math.max(4, Math.floor((width - 2 * pad) / (CHAR_EM * fs)))
  const text = lines.map((line, k) => {
    const y = height + Math.round(fs * (0.45 + 1.4 * k + 1.0))
    const weight = k === 0 ? ' font-weight="bold"' : ''
    const fill = k === 0 ? COLOURS.text : COLOURS.dim
    return (
      `<text x="${pad}" y="${y}" font-family="${FONT}" font-size="${fs}"${weight} ` +
      `fill="${fill}">${escapeXml(fitText(line, maxChars))}</text>`
    )
  })
  const legendY = height + Math.round(fs * (0.45 + 1.4 * lines.length + 1.0))
  const legend = layout.legend ? legendSvg(layout, pad, legendY, promptBox) : ''
  return `<rect x="0" y="${height}" width="${width}" height="${captionHeight}" fill="${COLOURS.band}"/>${text.join('')}${legend}`
}

/** A key to the marks, one glyph and a word each, on the band's last line (baseline y); the prompt box only where drawn. */
function legendSvg(layout: Layout, pad: number, y: number, promptBox: boolean): string {
  const fs = Math.round(layout.fontSize * 0.85)
  const g = fs * 0.5
  const cy = y - fs * 0.35
  const glyphs: [string, (x: number) => string][] = [
    ['grid token', (x) => `<circle cx="${num(x + g)}" cy="${num(cy)}" r="${num(g * 0.6)}" fill="${COLOURS.dot}"/>`],
    [
      'offset',
      (x) =>
        `<path d="M${num(x)} ${num(cy)}H${num(x + 2 * g - 3)}" stroke="${COLOURS.offset}" stroke-width="2"/><polygon ` +
        `points="${num(x + 2 * g)},${num(cy)} ${num(x + 2 * g - 5)},${num(cy - 3.5)} ${num(x + 2 * g - 5)},${num(cy + 3.5)}" ` +
        `fill="${COLOURS.offset}"/>`,
    ],
    [
      '<DELETE>',
      (x) =>
        `<path d="M${num(x + 2)} ${num(cy - g + 2)}L${num(x + 2 * g - 2)} ${num(cy + g - 2)}M${num(x + 2)} ` +
        `${num(cy + g - 2)}L${num(x + 2 * g - 2)} ${num(cy - g + 2)}" stroke="${COLOURS.offset}" stroke-width="2"/>`,
    ],
    [
      '<OFF_0_0>',
      (x) => `<circle cx="${num(x + g)}" cy="${num(cy)}" r="${num(g * 0.75)}" fill="none" stroke="${COLOURS.offset}" stroke-width="2"/>`,
    ],
    ['ground truth', (x) => `<path d="M${num(x)} ${num(cy)}H${num(x + 2 * g)}" stroke="${COLOURS.gt}" stroke-width="3"/>`],
    [
      'decoded mask',
      (x) =>
        `<rect x="${num(x)}" y="${num(cy - g)}" width="${num(2 * g)}" height="${num(2 * g)}" ` +
        `fill="rgb(${COLOURS.fill.join(',')})" fill-opacity="0.8"/>`,
    ],
  ]
  if (promptBox) {
    glyphs.push([
      'prompt box',
      (x) =>
        `<rect x="${num(x + 1)}" y="${num(cy - g + 1)}" width="${num(2 * g - 2)}" height="${num(2 * g - 2)}" ` +
        `fill="none" stroke="${COLOURS.promptBox}" stroke-width="2"/>`,
    ])
  }
  let x = pad
  const parts: string[] = []
  for (const [label, glyph] of glyphs) {
    parts.push(
      glyph(x),
      `<text x="${num(x + 2 * g + fs * 0.35)}" y="${y}" font-family="${FONT}" font-size="${fs}" ` +
        `fill="${COLOURS.dim}">${escapeXml(label)}</text>`,
    )
    // labels are mostly '<', '>', '_' and capitals, wider than average text
    x += 2 * g + fs * 0.35 + label.length * 0.66 * fs + fs
  }
  return parts.join('')
}

export function fitText(line: string, maxChars: number): string {
  return line.length <= maxChars ? line : `${line.slice(0, maxChars - 1)}…`
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;'})[c]!)
}
