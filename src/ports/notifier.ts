/**
 * Notifier: how a notification leaves Earshot — an e-mail through a mail server, or a webhook POST to
 * a receiver's URL. It sends exactly one message per call and says what happened; what to send, when
 * to retry and the delivery log are decided above it (pipelines/notify). Signing a webhook is not its
 * business either: it receives the finished headers.
 */

export interface EmailMessage {
  to: string;
  subject: string;
  text: string;
  html?: string;
  /** Extra headers, such as a stable Message-ID. */
  headers?: Record<string, string>;
}

export interface EmailReceipt {
  messageId: string;
  /** Recipients the server accepted and refused. */
  accepted: string[];
  rejected: string[];
}

/**
 * Sends e-mail. Throws an EarshotError: `email_failed`, retryable when the server or the network may
 * get better (connection refused, 4xx replies), permanent when the message will never go (5xx
 * replies such as an unknown recipient).
 */
export interface Mailer {
  send(message: EmailMessage, options?: { signal?: AbortSignal }): Promise<EmailReceipt>;
  close(): Promise<void>;
}

export interface WebhookRequest {
  url: string;
  /** The exact bytes that were signed. */
  body: string;
  headers: Record<string, string>;
  signal?: AbortSignal;
}

/** A receiver's answer, whatever its status: the caller decides what counts as delivered. */
export interface WebhookResponse {
  status: number;
  durationMs: number;
  /** The start of the response body, for the delivery log. */
  bodyExcerpt: string;
}

/**
 * POSTs webhooks. Refuses (EarshotError `webhook_refused`, not retryable) a URL whose host is or
 * resolves to a loopback, private, link-local or otherwise non-public address unless allow-listed,
 * and connects to the address it checked, so a DNS answer cannot change between check and connect.
 * Never follows redirects. A timeout, a refused connection or a DNS failure is `webhook_unreachable`
 * (retryable).
 */
export interface WebhookSender {
  post(request: WebhookRequest): Promise<WebhookResponse>;
  /**
   * Applies the same rules to a URL without sending anything (checks at submission); throws
   * `webhook_refused`. A host name that does not resolve now (or not within the timeout) passes: it is
   * checked again when the webhook is sent.
   */
  check(url: string): Promise<void>;
}
