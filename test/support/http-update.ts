import net from 'node:net'
import type { RunningServer } from './server'

export interface RawResponse {
  statusLine: string
  status: number
  headers: Record<string, string>
  body: Buffer
}

/** What the device says about itself; a header whose field is undefined is not sent (mac, baseMac, md5, version). */
export interface Sketch {
  /** x-ESP32-STA-MAC */
  mac?: string
  /** x-ESP32-BASE-MAC, sent (instead of the AP MAC) by a chip without Wi-Fi */
  baseMac?: string
  version?: string
  md5?: string
  freeSpace?: number
  sketchSize?: number
  /** x-ESP32-mode, `sketch` by default (`spiffs` asks for a file-system image) */
  mode?: string
}

/**
 * The request Arduino-ESP32's HTTPUpdate sends, byte for byte: HTTP/1.0 and its header set. Written
 * on a raw socket because node:http can only speak HTTP/1.1; the answer is read until the server closes.
 */
export function httpUpdate(server: RunningServer, urlPath: string, sketch: Sketch): Promise<RawResponse> {
  const lines = [
    `GET ${urlPath} HTTP/1.0`,
    `Host: 127.0.0.1:${server.port}`,
    'User-Agent: ESP32-http-Update',
    'Connection: close',
    'Cache-Control: no-cache',
    ...(sketch.mac === undefined ? [] : [`x-ESP32-STA-MAC: ${sketch.mac}`]),
    ...(sketch.baseMac === undefined ? ['x-ESP32-AP-MAC: 24:6F:28:AA:BB:CD'] : [`x-ESP32-BASE-MAC: ${sketch.baseMac}`]),
    `x-ESP32-free-space: ${sketch.freeSpace ?? 1966080}`,
    `x-ESP32-sketch-size: ${sketch.sketchSize ?? 912384}`,
    ...(sketch.md5 === undefined ? [] : [`x-ESP32-sketch-md5: ${sketch.md5}`]),
    'x-ESP32-chip-size: 4194304',
    'x-ESP32-sdk-version: v4.4.7-dirty',
    `x-ESP32-mode: ${sketch.mode ?? 'sketch'}`,
    ...(sketch.version === undefined ? [] : [`x-ESP32-version: ${sketch.version}`]),
  ]
  return new Promise((resolve, reject) => {
    const socket = net.connect(server.port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', reject)
    socket.on('end', () => {
      const raw = Buffer.concat(chunks)
      const split = raw.indexOf('\r\n\r\n')
      if (split < 0) return reject(new Error(`no header end in ${raw.length} bytes`))
      const [statusLine, ...headerLines] = raw.subarray(0, split).toString('latin1').split('\r\n')
      const headers: Record<string, string> = {}
      for (const line of headerLines) {
        const colon = line.indexOf(':')
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
      }
      resolve({ statusLine, status: Number(statusLine.split(' ')[1]), headers, body: raw.subarray(split + 4) })
    })
    socket.write(lines.join('\r\n') + '\r\n\r\n')
  })
}
