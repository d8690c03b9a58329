/**
 * A local HTTP file server for download tests: serves byte payloads by path with Range support, and
 * can misbehave on purpose (drop the connection midway, ignore Range, answer a status).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FileServerRequest {
  path: string;
  range: string | undefined;
}

export interface FileServer {
  url: string;
  /** What was asked, in order. */
  requests: FileServerRequest[];
  files: Map<string, Buffer>;
  /** Drop the connection after this many body bytes, for the next `times` requests. */
  cutAfter(bytes: number, times?: number): void;
  /** Answer whole files with 200 even when asked for a range. */
  ignoreRange: boolean;
  close(): Promise<void>;
}

export async function startFileServer(files: Record<string, Buffer> = {}): Promise<FileServer> {
  const state = { cutBytes: 0, cutTimes: 0 };
  const requests: FileServerRequest[] = [];
  const fileMap = new Map(Object.entries(files));
  const server: Server = createServer((req: IncomingMessage, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push({ path, range: req.headers.range });
    const file = fileMap.get(path);
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Entry not found');
      return;
    }
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range && !api.ignoreRange) {
      start = Number(range[1]);
      if (start >= file.length) {
        res.writeHead(416, { 'content-range': `bytes */${file.length}` }).end();
        return;
      }
      res.writeHead(206, { 'content-length': file.length - start, 'content-range': `bytes ${start}-${file.length - 1}/${file.length}`, 'accept-ranges': 'bytes' });
    } else {
      res.writeHead(200, { 'content-length': file.length, 'accept-ranges': 'bytes' });
    }
    const body = file.subarray(start);
    if (state.cutTimes > 0) {
      state.cutTimes--;
      // Send part of the body, then close the connection mid-response (a FIN, so what was sent arrives).
      res.write(body.subarray(0, state.cutBytes), () => res.socket?.end());
      return;
    }
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const api: FileServer = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    files: fileMap,
    ignoreRange: false,
    cutAfter(bytes, times = 1) {
      state.cutBytes = bytes;
      state.cutTimes = times;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return api;
}
