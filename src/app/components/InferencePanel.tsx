import { useState } from 'react';
import { isDefaultWeights, loadDefaultWeights, loadWeights, runSegmentation } from '../inference';
import type { ModelInfo } from '../../engine/worker/compute';
import { isMinProbability } from '../../engine/inference/peak-cut';
import { useStore } from '../store';
import { NumberBox } from './NumberBox';
import { WeightsFileInput } from './WeightsFileInput';

/** What the peak-probability box shows for weights that carry no cut of their own. */
const FALLBACK_MIN_PEAK = 0.999;

export function InferencePanel() {
  const scan = useStore((s) => s.scan);
  const compute = useStore((s) => s.compute);
  const model = useStore((s) => s.model);
  const busy = useStore((s) => s.busy);
  const [probabilities, setProbabilities] = useState(true);
  // Off by default: the pipeline then stays MONAI's run_inference.py as stored with the model.
  const [removeSmall, setRemoveSmall] = useState(false);
  const [minLesionMl, setMinLesionMl] = useState(0.4);
  const minValid = Number.isFinite(minLesionMl) && minLesionMl >= 0;
  const [flipTta, setFlipTta] = useState(false);
  // Each model brings its own cut (weights metadata, chosen on labelled cases): on with it when it has
  // one, off otherwise — a cut suits only the weights it was chosen for.
  const [cutOf, setCutOf] = useState<ModelInfo | null>(null);
  const [confident, setConfident] = useState(false);
  const [minPeak, setMinPeak] = useState(FALLBACK_MIN_PEAK);
  // Likewise the pixel size the weights were trained at: slices resampled to it when they carry one.
  const [resample, setResample] = useState(false);
  if (model !== cutOf) {
    setCutOf(model);
    setResample(model?.pixelSpacing != null);
    setConfident(model?.minPeakProbability != null);
    setMinPeak(model?.minPeakProbability ?? FALLBACK_MIN_PEAK);
  }
  const peakValid = isMinProbability(minPeak);
  if (!scan) return null;
  return (
    <section className="panel" data-testid="inference-panel">
      <h3>Lesion segmentation</h3>
      <p className="hint" data-testid="backend">
        Backend: {compute ? compute.backend : 'starting…'}
        {compute?.notes.map((n) => (
          <span key={n} className="note">
            <br />
            {n}
          </span>
        ))}
      </p>
      <p className="hint" data-testid="model-info">
        {model ? `COPLE-Net ${model.features.join('/')}, ${model.parameters.toLocaleString('en')} parameters, ${model.contextSlices ? `input: each slice with ${model.contextSlices} neighbour${model.contextSlices > 1 ? 's' : ''} on either side, ` : ''}${model.weights}` : 'No model loaded.'}
      </p>
      {model && isDefaultWeights(model.weights) && (
        <p className="hint warning-text" data-testid="weights-disclaimer">
          Default weights were trained by this project on synthetic chest phantoms only, not on patient data. For real scans drop
          MONAI's <code>coplenet_pretrained_monai_dict.pt</code> (or fine-tune). Not for clinical use.
        </p>
      )}
      <div className="row wrap">
        <button onClick={() => loadDefaultWeights()}>Default weights</button>
        <WeightsFileInput
          label="Weights file…"
          testId="weights-input"
          onFile={async (f) => loadWeights(f.name, new Uint8Array(await f.arrayBuffer()))}
        />
      </div>
      <label className="row">
        <input type="checkbox" checked={probabilities} onChange={(e) => setProbabilities(e.target.checked)} /> probability heat map
      </label>
      <label className="row" title="Appends MONAI RemoveSmallObjectsd (by measure, face connectivity) to the pipeline for the run">
        <input type="checkbox" checked={removeSmall} onChange={(e) => setRemoveSmall(e.target.checked)} data-testid="remove-small-toggle" /> Remove lesion
        components smaller than
        <NumberBox value={minLesionMl} onChange={setMinLesionMl} disabled={!removeSmall} label="minimum lesion component (mL)" testId="remove-small-ml" min={0} step={0.1} width="5em" />
        mL
      </label>
      {model?.pixelSpacing && (
        <label className="row" title="Inserts Spacingd after the Orientationd for the run: each slice is resampled (bilinear) to the pixel size these weights were trained at, the slice spacing stays the scan's, and the mask comes back on the scan's own grid. Weights see lesions at the size they learned them.">
          <input type="checkbox" checked={resample} onChange={(e) => setResample(e.target.checked)} data-testid="pixel-spacing-toggle" /> Resample the slices
          to the weights' pixel size ({model.pixelSpacing.join(' × ')} mm)
        </label>
      )}
      <label className="row" title="Appends KeepConfidentComponentsd (face connectivity) to the pipeline for the run: a lesion component stays only if its most certain voxel reaches this probability (hysteresis thresholding). On with the weights' own cut when they carry one (chosen on labelled cases, e.g. npm run eval:phantoms -- --tune-peak); other weights need a cut chosen for them.">
        <input type="checkbox" checked={confident} onChange={(e) => setConfident(e.target.checked)} data-testid="keep-confident-toggle" /> Keep only lesion
        components whose peak probability reaches
        <NumberBox value={minPeak} onChange={setMinPeak} disabled={!confident} label="minimum peak probability" testId="keep-confident-p" min={0} max={1} step="any" width="6em" />
      </label>
      <label className="row" title="Runs the network on the slices as they are, flipped left-right, up-down and both, and averages the logits (MONAI TestTimeAugmentation-style)">
        <input type="checkbox" checked={flipTta} onChange={(e) => setFlipTta(e.target.checked)} data-testid="flip-tta-toggle" /> Average over
        in-plane flips (4× slower)
      </label>
      <button
        disabled={!model || !!busy || (removeSmall && !minValid) || (confident && !peakValid)}
        onClick={() => runSegmentation(probabilities, { ...(resample && model?.pixelSpacing && { pixelSpacing: model.pixelSpacing }), ...(removeSmall && { minLesionMl }), ...(confident && { minPeakProbability: minPeak }), flipTta })}
      >
        Segment lesions
      </button>
    </section>
  );
}
