/**
 * Llm: one chat-completions call that must answer with JSON matching a schema. It owns the wire
 * protocol, timeouts and the mapping of failures to errors; prompts, validation of the answer and
 * what to do with a bad one belong to the caller (pipelines/notes). It holds no conversation state.
 */

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatJsonRequest {
  messages: ChatMessage[];
  /**
   * The JSON Schema the answer must follow, sent as a structured-output response format (servers
   * that cannot enforce one get it as instructions instead, so the caller validates either way).
   * `name` is `[a-zA-Z0-9_-]+`.
   */
  schema: { name: string; schema: Record<string, unknown> };
  /** Default 0: notes should not vary from one run to the next. */
  temperature?: number;
  /** Unset: the server's own limit. */
  maxTokens?: number;
  /** Aborting rejects with the signal's reason (an AbortError), never with `llm_unavailable`. */
  signal?: AbortSignal;
}

export interface ChatJsonResponse {
  /** The assistant's message text as received: the caller parses and validates it. */
  content: string;
  model: string;
  usage?: { promptTokens: number; completionTokens: number };
}

/**
 * Errors are EarshotErrors: `llm_unavailable` (retryable: timeouts, connection errors, 5xx, 429 with
 * `retryAfterMs` from Retry-After) or `llm_failed` (permanent: 4xx such as a bad key or an
 * unknown model, or a success without an answer). Neither carries the API key.
 */
export interface Llm {
  readonly name: string;
  readonly model: string;
  chatJson(request: ChatJsonRequest): Promise<ChatJsonResponse>;
}
