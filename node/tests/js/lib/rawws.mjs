// A minimal WebSocket client over node:http (RFC 6455: client-masked frames, text and close,
// fragmented messages, pings answered), so tests can send exactly the bytes they mean to —
// including junk — and see exactly what comes back.
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { WAIT_MS } from './harness.mjs';

let nextId = 1_000_000;

export class RawWs {
  constructor(socket, head) {
    this.socket = socket;
    this.buf = head && head.length ? Buffer.from(head) : Buffer.alloc(0);
    this.messages = [];
    this.waiters = [];
    this.fragments = [];
    this.closed = false;
    socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
    });
    const onEnd = () => {
      this.closed = true;
      this.wake();
    };
    socket.on('close', onEnd);
    socket.on('end', onEnd);
    socket.on('error', onEnd);
    this.parse();
  }

  parse() {
    for (;;) {
      if (this.buf.length < 2) return;
      const b0 = this.buf[0];
      const b1 = this.buf[1];
      let len = b1 & 0x7f;
      let at = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        at = 10;
      }
      const masked = b1 & 0x80;
      const maskAt = at;
      if (masked) at += 4;
      if (this.buf.length < at + len) return;
      let payload = this.buf.subarray(at, at + len);
      if (masked) {
        const mask = this.buf.subarray(maskAt, maskAt + 4);
        payload = Buffer.from(payload.map((x, i) => x ^ mask[i % 4]));
      }
      this.buf = this.buf.subarray(at + len);
      const opcode = b0 & 0x0f;
      const fin = b0 & 0x80;
      if (opcode === 0x8) {
        this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : undefined;
        this.closed = true;
        this.socket.end();
        this.wake();
        return;
      }
      if (opcode === 0x9) {
        this.frame(0xa, payload);
        continue;
      }
      if (opcode === 0xa) continue;
      this.fragments.push(payload);
      if (fin) {
        const text = Buffer.concat(this.fragments).toString('utf8');
        this.fragments = [];
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = { unparsable: text };
        }
        this.messages.push(json);
        this.wake();
      }
    }
  }

  wake() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /// Sends one frame; `opcode` 1 is text, 2 binary, 8 close.
  frame(opcode, payload) {
    const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
    let header;
    if (data.length < 126) {
      header = Buffer.from([0x80 | opcode, 0x80 | data.length]);
    } else if (data.length < 65536) {
      header = Buffer.alloc(4);
      header[0] = 0x80 | opcode;
      header[1] = 0x80 | 126;
      header.writeUInt16BE(data.length, 2);
    } else {
      header = Buffer.alloc(10);
      header[0] = 0x80 | opcode;
      header[1] = 0x80 | 127;
      header.writeBigUInt64BE(BigInt(data.length), 2);
    }
    const mask = randomBytes(4);
    const masked = Buffer.alloc(data.length);
    for (let i = 0; i < data.length; i++) masked[i] = data[i] ^ mask[i % 4];
    this.socket.write(Buffer.concat([header, mask, masked]));
  }

  send(text) {
    this.frame(1, text);
  }

  /// The first message (removed from the queue) for which `pred` holds.
  async next(pred = () => true, what = 'a WebSocket message', ms = WAIT_MS) {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.messages.findIndex(pred);
      if (i >= 0) return this.messages.splice(i, 1)[0];
      if (this.closed) throw new Error(`WebSocket closed (code ${this.closeCode}) while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /// One JSON-RPC call; returns the whole response.
  async call(method, params = []) {
    const id = nextId++;
    this.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    return this.next((m) => m.id === id, `the answer to ${method}`);
  }

  /// Waits until the server has closed the connection.
  async waitClosed(ms = WAIT_MS) {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('the server did not close the WebSocket');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  close() {
    if (!this.closed) {
      try {
        this.frame(8, Buffer.from([0x03, 0xe8]));
      } catch {
        // already gone
      }
    }
    this.socket.destroy();
    this.closed = true;
  }
}

/// Opens a WebSocket to `url` (ws://host:port/path).
export function connectWs(url, ms = WAIT_MS) {
  const u = new URL(url.replace(/^ws/, 'http'));
  return new Promise((resolve, reject) => {
    const req = request({
      host: u.hostname,
      port: u.port,
      path: u.pathname + u.search,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        'Sec-WebSocket-Version': '13',
      },
      timeout: ms,
    });
    req.on('upgrade', (res, socket, head) => resolve(new RawWs(socket, head)));
    req.on('response', (res) => reject(new Error(`no WebSocket upgrade at ${url}: HTTP ${res.statusCode}`)));
    req.on('timeout', () => req.destroy(new Error(`WebSocket connect to ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
