// A small HTTP client for the server tests, on node:http, so a test controls every byte it sends.
import {request} from 'node:http'

export interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
  json: any
}

export interface Sent {
  method?: string
  path?: string
  headers?: Record<string, string | number>
  /** the body; a list is written chunk by chunk (no Content-Length unless given) */
  body?: string | Buffer | Buffer[]
}

export function send(url: string, sent: Sent = {}): Promise<Answer> {
  const target = new URL(sent.path ?? '/', url)
  return new Promise((resolve, reject) => {
    const req = request(target, {method: sent.method ?? 'GET', headers: sent.headers, agent: false}, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', reject)
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let json: unknown
        try {
          json = JSON.parse(text)
        } catch {
          json = undefined
        }
        resolve({status: res.statusCode ?? 0, headers: res.headers, text, json})
      })
    })
    req.on('error', reject)
    const body = sent.body
    if (Array.isArray(body)) for (const chunk of body) req.write(chunk)
    else if (body !== undefined) req.write(body)
    req.end()
  })
}

/** POST /score with a JSON body. */
export function score(url: string, body: unknown): Promise<Answer> {
  const text = JSON.stringify(body)
  return send(url, {
    method: 'POST',
    path: '/score',
    headers: {'content-type': 'application/json', 'content-length': Buffer.byteLength(text)},
    body: text,
  })
}
