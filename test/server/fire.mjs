// Sends every body of a JSON list to POST /score at once, from a process of its own (so the
// requests reach the server while its own event loop is busy with SAM), and prints the answers
// as a JSON list of {status, json}, in order.   node fire.mjs URL BODIES.json
import {readFileSync} from 'node:fs'
import {request} from 'node:http'

const [url, file] = process.argv.slice(2)
const bodies = JSON.parse(readFileSync(file, 'utf8'))
const post = (body) =>
  new Promise((resolve, reject) => {
    const text = JSON.stringify(body)
    const headers = {'content-type': 'application/json', 'content-length': Buffer.byteLength(text)}
    const req = request(new URL('/score', url), {method: 'POST', headers, agent: false}, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => resolve({status: res.statusCode, json: JSON.parse(Buffer.concat(chunks).toString('utf8'))}))
    })
    req.on('error', reject)
    req.end(text)
  })
process.stdout.write(JSON.stringify(await Promise.all(bodies.map(post))))
