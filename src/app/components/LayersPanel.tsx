import { useRef } from 'react';
import { readFiles } from '../engine-client';
import { exportLayer, newObserverLayer, openLabelFiles, persist } from '../layers';
import { useStore, type LabelLayer } from '../store';

const hex = (c: [number, number, number]) => `#${c.map((x) => x.toString(16).padStart(2, '0')).join('')}`;
const rgb = (h: string): [number, number, number] => [1, 3, 5].map((n) => parseInt(h.slice(n, n + 2), 16)) as [number, number, number];

function LayerRow({ layer, active, fromDicom }: { layer: LabelLayer; active: boolean; fromDicom: boolean }) {
  const update = useStore((s) => s.updateLayer);
  const remove = useStore((s) => s.removeLayer);
  const setActive = useStore((s) => s.setActiveLayer);
  return (
    <li className={`layer ${active ? 'active' : ''}`} data-testid="layer">
      <input type="checkbox" checked={layer.visible} title="Show" onChange={(e) => update(layer.id, { visible: e.target.checked })} />
      <input type="color" value={hex(layer.color)} title="Colour" onChange={(e) => update(layer.id, { color: rgb(e.target.value) })} />
      <button className="layer-name" title={layer.kind === 'observer' ? 'Paint into this layer' : layer.kind} onClick={() => layer.kind === 'observer' && setActive(layer.id)}>
        {layer.name}
      </button>
      <input
        type="range"
        min={0}
        max={1}
        step={0.05}
        value={layer.opacity}
        title="Opacity"
        onChange={(e) => update(layer.id, { opacity: Number(e.target.value) })}
      />
      <span className="layer-actions">
        <button title="Download as NIfTI (.nii.gz) on the scan's geometry" onClick={() => exportLayer(layer, 'nifti')}>
          .nii.gz
        </button>
        {fromDicom && (
          <button title="Download as DICOM SEG over the scan's series" onClick={() => exportLayer(layer, 'dicom-seg')}>
            SEG
          </button>
        )}
        <button
          title="Delete layer"
          onClick={() => {
            if (confirm(`Delete layer "${layer.name}"?`)) {
              remove(layer.id);
              void persist();
            }
          }}
        >
          ✕
        </button>
      </span>
    </li>
  );
}

export function LayersPanel() {
  const scan = useStore((s) => s.scan);
  const layers = useStore((s) => s.layers);
  const activeLayerId = useStore((s) => s.activeLayerId);
  const input = useRef<HTMLInputElement>(null);
  const resample = useRef(false);
  if (!scan) return null;
  const fromDicom = !!scan.volume.source?.format.startsWith('DICOM');
  const pick = (withResample: boolean) => {
    resample.current = withResample;
    input.current?.click();
  };
  return (
    <section className="panel" data-testid="layers-panel">
      <h3>Label layers</h3>
      <ul className="layers">
        {layers.map((l) => (
          <LayerRow key={l.id} layer={l} active={l.id === activeLayerId} fromDicom={fromDicom} />
        ))}
      </ul>
      <div className="row">
        <button onClick={() => newObserverLayer()}>New observer</button>
        <button onClick={() => pick(false)}>Open labels…</button>
        <button title="Open labels on another grid, resampled onto this scan (nearest neighbour)" onClick={() => pick(true)}>
          …resampled
        </button>
      </div>
      <input
        ref={input}
        data-testid="label-input"
        type="file"
        multiple
        hidden
        onChange={async (e) => {
          const files = Array.from(e.currentTarget.files ?? []);
          e.currentTarget.value = '';
          if (files.length) await openLabelFiles(await readFiles(files), resample.current);
        }}
      />
    </section>
  );
}
