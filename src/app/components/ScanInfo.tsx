import { axisCodes } from '../../engine/volume';
import { useStore } from '../store';

const fmt = (xs: number[], digits = 3) => xs.map((x) => Number(x.toFixed(digits))).join(' × ');

export function ScanInfo() {
  const scan = useStore((s) => s.scan);
  if (!scan) return <section className="panel">No scan loaded. Drop a DICOM folder or a NIfTI file anywhere.</section>;
  const v = scan.volume;
  return (
    <section className="panel" data-testid="scan-info">
      <h3 title={scan.name}>{scan.name}</h3>
      <dl>
        <dt>Format</dt>
        <dd>{v.source?.format ?? 'unknown'}</dd>
        <dt>Size</dt>
        <dd data-testid="scan-dims">{v.dims.join(' × ')}</dd>
        <dt>Voxel (mm)</dt>
        <dd>{fmt(v.spacing)}</dd>
        <dt>Orientation</dt>
        <dd>{axisCodes(v)}</dd>
        <dt>Units</dt>
        <dd>{v.units}</dd>
      </dl>
      {v.notices.length > 0 && (
        <ul className="notices">
          {v.notices.map((n, i) => (
            <li key={i}>{n}</li>
          ))}
        </ul>
      )}
    </section>
  );
}
