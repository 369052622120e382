import { useEffect, useRef, useState } from 'react';
import { Enums as ToolEnums } from '@cornerstonejs/tools';
import { MprViewer, VIEWS, eventTarget, type Probe, type ViewName } from '../../viewer/mpr-viewer';
import { engine } from '../engine-client';
import { persist } from '../layers';
import { useStore } from '../store';
import { setViewer } from '../viewer-instance';

declare global {
  interface Window {
    /** For end-to-end tests and benchmarks: the live viewer and the time the last scan became visible. */
    __workbench?: { viewer: MprViewer; store: typeof useStore; engine: typeof engine; shownAt?: number; shownScan?: string };
  }
}

export function ViewerPanel() {
  const refs = { axial: useRef<HTMLDivElement>(null), sagittal: useRef<HTMLDivElement>(null), coronal: useRef<HTMLDivElement>(null) };
  const viewer = useRef<MprViewer | null>(null);
  const scan = useStore((s) => s.scan);
  const layers = useStore((s) => s.layers);
  const activeLayerId = useStore((s) => s.activeLayerId);
  const preset = useStore((s) => s.preset);
  const tool = useStore((s) => s.tool);
  const radius = useStore((s) => s.brushRadiusMm);
  const hu = useStore((s) => s.thresholdHU);
  const notify = useStore((s) => s.notify);
  const [shown, setShown] = useState<string | null>(null);
  const [probe, setProbe] = useState<Probe | null>(null);

  useEffect(() => {
    const v = new MprViewer({ axial: refs.axial.current!, sagittal: refs.sagittal.current!, coronal: refs.coronal.current! });
    viewer.current = v;
    setViewer(v);
    window.__workbench = { viewer: v, store: useStore, engine };
    // Brush strokes change layer buffers in place: save them a moment after the last stroke.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onModified = () => {
      clearTimeout(timer);
      timer = setTimeout(() => void persist(), 800);
    };
    eventTarget.addEventListener(ToolEnums.Events.SEGMENTATION_DATA_MODIFIED, onModified);
    const onKey = (e: KeyboardEvent) => {
      if (!(e.ctrlKey || e.metaKey) || (e.target as HTMLElement).tagName === 'INPUT') return;
      if (e.key === 'z') v.undo();
      else if (e.key === 'y') v.redo();
    };
    window.addEventListener('keydown', onKey);
    return () => {
      clearTimeout(timer);
      eventTarget.removeEventListener(ToolEnums.Events.SEGMENTATION_DATA_MODIFIED, onModified);
      window.removeEventListener('keydown', onKey);
      v.destroy();
      viewer.current = null;
      setViewer(null);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    const v = viewer.current;
    if (!v || !scan) return;
    let live = true;
    setShown(null);
    v.setVolume(scan.volume, preset)
      .then(() => {
        if (live) setShown(scan.key);
        return v.whenRendered();
      })
      .then(() => {
        if (live && window.__workbench) Object.assign(window.__workbench, { shownAt: performance.now(), shownScan: scan.key });
      })
      .catch((err) => notify('error', `Viewer: ${err instanceof Error ? err.message : String(err)}`));
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [scan]);

  useEffect(() => {
    const v = viewer.current;
    if (!v || !shown) return;
    const ids = new Set(layers.map((l) => l.id));
    for (const id of v.shownLayerIds()) if (!ids.has(id)) v.removeLayer(id);
    (async () => {
      for (const layer of layers) await v.setLayer(layer);
      if (activeLayerId) v.setActiveLayer(activeLayerId, radius);
    })().catch((err) => notify('error', `Viewer: ${err instanceof Error ? err.message : String(err)}`));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [layers, activeLayerId, shown]);

  useEffect(() => {
    if (scan?.volume.units === 'HU') viewer.current?.setPreset(preset);
  }, [preset, scan]);

  useEffect(() => viewer.current?.setLeftTool(tool), [tool, shown]);
  useEffect(() => viewer.current?.setBrushRadius(radius), [radius, shown]);
  useEffect(() => viewer.current?.setThresholdRange(hu[0], hu[1]), [hu, shown]);

  const onMove = (view: ViewName) => (e: React.MouseEvent<HTMLDivElement>) => {
    const rect = e.currentTarget.getBoundingClientRect();
    setProbe(viewer.current?.probe(view, e.clientX - rect.left, e.clientY - rect.top) ?? null);
  };

  return (
    <div className="viewer">
      <div className="viewports">
        {VIEWS.map((view) => (
          <div key={view} className="viewport-frame">
            <span className="viewport-label">{view}</span>
            <div ref={refs[view]} className="viewport" data-testid={`viewport-${view}`} onMouseMove={onMove(view)} onContextMenu={(e) => e.preventDefault()} />
          </div>
        ))}
      </div>
      <div className="probe" data-testid="probe">
        {probe
          ? `voxel (${probe.ijk.join(', ')}) · ${probe.world.map((x) => x.toFixed(1)).join(', ')} mm LPS · ${Number(probe.value.toFixed(2))} ${scan?.volume.units === 'HU' ? 'HU' : ''}`
          : 'move over the image for voxel values'}
      </div>
    </div>
  );
}
