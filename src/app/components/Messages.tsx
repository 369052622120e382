import { useStore } from '../store';

/** Errors and notices; text from files is rendered as text (React escapes it), never as HTML. */
export function Messages() {
  const messages = useStore((s) => s.messages);
  const dismiss = useStore((s) => s.dismiss);
  return (
    <div className="messages" aria-live="polite">
      {messages.map((m) => (
        <div key={m.id} className={`message ${m.level}`} data-testid={`message-${m.level}`}>
          <span>{m.text}</span>
          <button aria-label="Dismiss" onClick={() => dismiss(m.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
