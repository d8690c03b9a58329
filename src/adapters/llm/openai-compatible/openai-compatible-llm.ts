/**
 * Llm on any OpenAI-compatible chat-completions server (OpenAI, Ollama, vLLM, llama.cpp server, a
 * hosted gateway): one POST to `{baseUrl}/chat/completions` per call, asking for a `json_schema`
 * response format. Servers that refuse that format get `json_object` instead, with the schema in
 * the system prompt, and models that refuse a temperature get none; the adapter remembers each
 * refusal so later calls do not pay for it again.
 */
import { EarshotError, retryable } from '../../../core/errors.js';
import type { ChatJsonRequest, ChatJsonResponse, ChatMessage, Llm } from '../../../ports/llm.js';
import { httpFailure, parseCompletion, refusesJsonSchema, refusesTemperature, serverMessage } from './chat-response.js';

export interface OpenAiCompatibleLlmOptions {
  /** The API root, with its version: `https://api.openai.com/v1`, `http://localhost:11434/v1`. */
  baseUrl: string;
  /** Sent as a bearer token; local servers often need none. Never logged nor put in errors. */
  apiKey?: string;
  /** The server's model id. */
  model: string;
  /** One call, answer included. */
  timeoutMs: number;
  /** For tests and proxies. Default: the global fetch. */
  fetch?: typeof fetch;
}

type ResponseFormat = 'json_schema' | 'json_object';

interface RawAnswer {
  status: number;
  retryAfter: string | null;
  body: string;
}

/** A remote model; nothing is contacted until the first call. */
export function createOpenAiCompatibleLlm(options: OpenAiCompatibleLlmOptions): Llm {
  let url: URL;
  try {
    url = new URL(options.baseUrl.replace(/\/+$/, '') + '/chat/completions');
  } catch {
    throw new EarshotError('invalid_config', 'the LLM base URL is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new EarshotError('invalid_config', 'the LLM base URL must be http(s)');
  const doFetch = options.fetch ?? fetch;
  const { apiKey, model, timeoutMs } = options;
  let format: ResponseFormat = 'json_schema';
  // Reasoning models (o1, o3, gpt-5) accept only their default temperature.
  let sendTemperature = true;
  // Servers sometimes echo what they were sent; the key must not travel on in an error.
  const redact = (text: string) => (apiKey ? text.split(apiKey).join('[redacted]') : text);

  const payload = (request: ChatJsonRequest) => ({
    model,
    messages: format === 'json_schema' ? request.messages : withSchemaPrompt(request.messages, request.schema.schema),
    ...(sendTemperature ? { temperature: request.temperature ?? 0 } : {}),
    ...(request.maxTokens !== undefined ? { max_tokens: request.maxTokens } : {}),
    response_format:
      format === 'json_schema' ? { type: 'json_schema', json_schema: { name: request.schema.name, schema: request.schema.schema, strict: true } } : { type: 'json_object' },
  });

  const post = async (request: ChatJsonRequest): Promise<RawAnswer> => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
    try {
      const response = await doFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
        body: JSON.stringify(payload(request)),
        signal,
      });
      return { status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.text() };
    } catch (err) {
      // The caller's abort is a cancellation, not an outage: it must not be retried as one.
      if (request.signal?.aborted) throw request.signal.reason;
      if (timeout.aborted) throw retryable('llm_unavailable', `the chat server did not answer within ${timeoutMs} ms`, { reason: 'timeout', timeout_ms: timeoutMs });
      // fetch rejects with a TypeError whose cause is the socket error (ECONNREFUSED, ECONNRESET, ...).
      const cause = (err as { cause?: { code?: unknown } }).cause;
      const code = typeof cause?.code === 'string' ? cause.code : undefined;
      throw new EarshotError('llm_unavailable', `the chat server could not be reached: ${code ?? redact((err as Error).message ?? String(err))}`, {
        retryable: true,
        details: { reason: 'network', ...(code ? { error: code } : {}) },
      });
    }
  };

  return {
    name: 'openai-compatible',
    model,

    async chatJson(request: ChatJsonRequest): Promise<ChatJsonResponse> {
      request.signal?.throwIfAborted();
      let answer = await post(request);
      // At most one retry per thing the server refuses; each refusal is remembered for later calls.
      for (let tries = 0; tries < 2 && (answer.status === 400 || answer.status === 422); tries++) {
        const message = serverMessage(answer.body);
        if (format === 'json_schema' && refusesJsonSchema(answer.status, message)) format = 'json_object';
        else if (sendTemperature && refusesTemperature(answer.status, message)) sendTemperature = false;
        else break;
        answer = await post(request);
      }
      if (answer.status < 200 || answer.status >= 300) throw httpFailure(answer.status, redact(serverMessage(answer.body)), answer.retryAfter);
      return parseCompletion(answer.body, model);
    },
  };
}

/** `json_object` mode does not carry the schema, so the model reads it in the system prompt. */
function withSchemaPrompt(messages: ChatMessage[], schema: Record<string, unknown>): ChatMessage[] {
  const note = `Answer with one JSON object, and nothing else, that follows this JSON Schema:\n${JSON.stringify(schema)}`;
  const [first, ...rest] = messages;
  // Some chat templates accept a system message only in first place.
  if (first?.role === 'system') return [{ role: 'system', content: `${first.content}\n\n${note}` }, ...rest];
  return [{ role: 'system', content: note }, ...messages];
}
