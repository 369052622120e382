import { useEffect, useRef, useState } from 'react';
import { MprViewer, VIEWS, type Probe, type ViewName } from '../../viewer/mpr-viewer';
import { useStore } from '../store';

declare global {
  interface Window {
    /** For end-to-end tests and benchmarks: the live viewer and the time the last scan became visible. */
    __workbench?: { viewer: MprViewer; shownAt?: number; shownScan?: string };
  }
}

export function ViewerPanel() {
  const refs = { axial: useRef<HTMLDivElement>(null), sagittal: useRef<HTMLDivElement>(null), coronal: useRef<HTMLDivElement>(null) };
  const viewer = useRef<MprViewer | null>(null);
  const scan = useStore((s) => s.scan);
  const preset = useStore((s) => s.preset);
  const notify = useStore((s) => s.notify);
  const [probe, setProbe] = useState<Probe | null>(null);

  useEffect(() => {
    const v = new MprViewer({ axial: refs.axial.current!, sagittal: refs.sagittal.current!, coronal: refs.coronal.current! });
    viewer.current = v;
    window.__workbench = { viewer: v };
    return () => {
      v.destroy();
      viewer.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    const v = viewer.current;
    if (!v || !scan) return;
    let live = true;
    v.setVolume(scan.volume, preset)
      .then(() => v.whenRendered())
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
    if (scan?.volume.units === 'HU') viewer.current?.setPreset(preset);
  }, [preset, scan]);

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
