/**
 * Reading an OpenAI-compatible chat server's answers: the completion body, and error statuses turned
 * into the port's errors. Whether a failure is worth another attempt is decided here, from the
 * status: a busy server may recover, a bad key or an unknown model will not.
 */
import { EarshotError, parseRetryAfter, permanent } from '../../../core/errors.js';
import type { ChatJsonResponse } from '../../../ports/llm.js';

/** The server's own error text (`{error: {message}}`, `{error: "..."}`, `{detail}`, `{message}`), else the body. */
export function serverMessage(body: string): string {
  let message = body.trim();
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } | string; detail?: unknown; message?: unknown };
    const m = typeof parsed.error === 'string' ? parsed.error : (parsed.error?.message ?? parsed.detail ?? parsed.message);
    if (typeof m === 'string') message = m;
    else if (m !== undefined) message = JSON.stringify(m);
  } catch {}
  return message.slice(0, 500);
}

/** Whether a refusal says the server cannot do `json_schema` response formats (older vLLM, llama.cpp, some gateways). */
export function refusesJsonSchema(status: number, message: string): boolean {
  return (
    (status === 400 || status === 422) &&
    /response_format|json_schema|structured output/i.test(message) &&
    /not supported|unsupported|does not support|doesn't support|not implemented|unknown|unrecognized|not allowed/i.test(message)
  );
}

/** Whether a refusal is about the temperature ("Unsupported value: 'temperature' does not support 0 with this model"). */
export function refusesTemperature(status: number, message: string): boolean {
  return (status === 400 || status === 422) && /temperature/i.test(message) && /unsupported|not support|does not support|only the default/i.test(message);
}

/** The error for a non-2xx answer: 408, 429 and 5xx are `llm_unavailable` (retryable); other statuses are `llm_failed`. */
export function httpFailure(status: number, message: string, retryAfter: string | null): EarshotError {
  const text = `the chat server answered ${status}${message ? `: ${message}` : ''}`;
  if (status === 408 || status === 429 || status >= 500) {
    const wait = parseRetryAfter(retryAfter, Date.now());
    return new EarshotError('llm_unavailable', text, { retryable: true, ...(wait !== undefined ? { retryAfterMs: wait } : {}), details: { status } });
  }
  return permanent('llm_failed', text, { status, message });
}

interface WireCompletion {
  model?: unknown;
  choices?: { message?: { content?: unknown; refusal?: unknown }; finish_reason?: unknown }[];
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown };
}

/** The assistant's text of a 2xx body; a body without it is `llm_failed`. */
export function parseCompletion(body: string, fallbackModel: string): ChatJsonResponse {
  let json: WireCompletion;
  try {
    json = JSON.parse(body) as WireCompletion;
  } catch {
    throw permanent('llm_failed', 'the chat server answered with a body that is not JSON', { reason: 'bad_response' });
  }
  const message = json?.choices?.[0]?.message;
  if (typeof message?.refusal === 'string' && message.refusal !== '') {
    throw permanent('llm_failed', 'the model refused to answer', { reason: 'refusal', refusal: message.refusal.slice(0, 500) });
  }
  const content = textOf(message?.content);
  if (content === undefined) throw permanent('llm_failed', 'the chat server answered without choices[0].message.content', { reason: 'no_content' });
  const usage = json?.usage;
  return {
    content,
    model: typeof json?.model === 'string' && json.model !== '' ? json.model : fallbackModel,
    ...(typeof usage?.prompt_tokens === 'number' && typeof usage.completion_tokens === 'number'
      ? { usage: { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens } }
      : {}),
  };
}

/** A string, or the text parts of a content array (some servers answer in parts). */
function textOf(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return undefined;
  const parts = content.flatMap((p: { type?: unknown; text?: unknown }) => (p?.type === 'text' && typeof p.text === 'string' ? [p.text] : []));
  return parts.length > 0 ? parts.join('') : undefined;
}
