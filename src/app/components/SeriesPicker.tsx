import { chooseSeries } from '../actions';
import { useStore } from '../store';

export function SeriesPicker() {
  const pending = useStore((s) => s.pendingSeries);
  const setPending = useStore((s) => s.setPendingSeries);
  if (!pending) return null;
  return (
    <div className="modal" role="dialog" aria-label="Pick a series">
      <div className="modal-body">
        <h3>These files hold {pending.series.length} series. Open which one?</h3>
        <ul>
          {pending.series.map((s) => (
            <li key={s.uid}>
              <button onClick={() => chooseSeries(s.uid)}>
                {s.modality} · {s.description || '(no description)'} · {s.images} images
              </button>
            </li>
          ))}
        </ul>
        <button onClick={() => setPending(null)}>Cancel</button>
      </div>
    </div>
  );
}
