/**
 * The AsrEngine contract against the openai engine, talking to a local OpenAI-compatible server
 * backed by pocketsphinx: real words through multipart WAV uploads and verbose_json answers.
 */
import { existsSync } from 'node:fs';
import { after } from 'node:test';
import { createOpenAiEngine } from '../../src/adapters/asr/openai/openai-engine.js';
import { createPocketsphinxEngine } from '../../src/adapters/asr/pocketsphinx/pocketsphinx-engine.js';
import { startOpenAiAsrServer, type OpenAiAsrServer } from '../support/openai-asr-server.js';
import { asrEngineContract } from './asr-engine.case.js';

const hasPocketsphinx = existsSync('/usr/bin/pocketsphinx_continuous') && existsSync('/usr/share/pocketsphinx/model/en-us');
let server: OpenAiAsrServer | undefined;
const backend = hasPocketsphinx ? createPocketsphinxEngine() : undefined;

after(async () => {
  await server?.close();
  await backend?.close();
});

asrEngineContract({
  name: 'openai (local server on pocketsphinx)',
  create: async () => {
    server ??= await startOpenAiAsrServer(backend!);
    return createOpenAiEngine({ baseUrl: server.baseUrl, apiKey: 'sk-local' });
  },
  // pocketsphinx's own figure (0.47 measured), through the server.
  expect: { producesWords: true, maxWer: 0.6, silenceIsEmpty: true },
  skip: !hasPocketsphinx && 'pocketsphinx or pocketsphinx-en-us is not installed',
});
