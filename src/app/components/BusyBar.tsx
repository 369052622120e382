import { useStore } from '../store';

export function BusyBar() {
  const busy = useStore((s) => s.busy);
  if (!busy) return null;
  return (
    <div className="busy" role="status" data-testid="busy">
      <span>{busy.label}</span>
      <progress value={busy.progress ?? undefined} max={1} />
      {busy.cancel && <button onClick={busy.cancel}>Cancel</button>}
    </div>
  );
}
