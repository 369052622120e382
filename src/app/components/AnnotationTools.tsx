import { editLayer } from '../layers';
import { useStore } from '../store';
import type { LeftTool } from '../../viewer/mpr-viewer';

const TOOLS: { tool: LeftTool; label: string; hint: string }[] = [
  { tool: 'crosshairs', label: 'Crosshairs', hint: 'Linked crosshairs (left drag)' },
  { tool: 'windowLevel', label: 'W/L', hint: 'Window/level (left drag)' },
  { tool: 'brush', label: 'Brush', hint: 'Paint into the active layer' },
  { tool: 'eraser', label: 'Eraser', hint: 'Erase from the active layer' },
  { tool: 'thresholdBrush', label: 'HU brush', hint: 'Paint only voxels inside the HU range' },
];

export function AnnotationTools({ onUndo, onRedo, currentSlice }: { onUndo: () => void; onRedo: () => void; currentSlice: () => number }) {
  const scan = useStore((s) => s.scan);
  const tool = useStore((s) => s.tool);
  const setTool = useStore((s) => s.setTool);
  const radius = useStore((s) => s.brushRadiusMm);
  const setRadius = useStore((s) => s.setBrushRadius);
  const hu = useStore((s) => s.thresholdHU);
  const setHU = useStore((s) => s.setThresholdHU);
  const active = useStore((s) => s.layers.find((l) => l.id === s.activeLayerId));
  if (!scan) return null;
  return (
    <section className="panel" data-testid="annotation-tools">
      <h3>Tools {active ? <small>→ {active.name}</small> : <small>(no active layer)</small>}</h3>
      <div className="row wrap">
        {TOOLS.map((t) => (
          <button key={t.tool} className={t.tool === tool ? 'active' : ''} title={t.hint} onClick={() => setTool(t.tool)}>
            {t.label}
          </button>
        ))}
      </div>
      <label className="row">
        Radius {radius} mm
        <input type="range" min={1} max={40} step={1} value={radius} onChange={(e) => setRadius(Number(e.target.value))} />
      </label>
      <div className="row">
        HU
        <input type="number" value={hu[0]} onChange={(e) => setHU([Number(e.target.value), hu[1]])} style={{ width: 70 }} />
        to
        <input type="number" value={hu[1]} onChange={(e) => setHU([hu[0], Number(e.target.value)])} style={{ width: 70 }} />
      </div>
      <div className="row wrap">
        <button onClick={onUndo} title="Undo (Ctrl+Z)">Undo</button>
        <button onClick={onRedo} title="Redo (Ctrl+Y)">Redo</button>
        <button disabled={!active} onClick={() => active && editLayer(active, 'fill-holes', currentSlice())} title="Fill closed outlines on the axial slice shown">
          Fill outline
        </button>
        <button disabled={!active} onClick={() => active && editLayer(active, 'fill-between', 0)} title="Interpolate the axial slices between annotated ones">
          Fill between slices
        </button>
      </div>
    </section>
  );
}
