import { useState } from 'react';
import { loadDefaultWeights, loadWeights, runSegmentation } from '../inference';
import { useStore } from '../store';
import { WeightsFileInput } from './WeightsFileInput';

export function InferencePanel() {
  const scan = useStore((s) => s.scan);
  const compute = useStore((s) => s.compute);
  const model = useStore((s) => s.model);
  const busy = useStore((s) => s.busy);
  const [probabilities, setProbabilities] = useState(true);
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
        {model ? `COPLE-Net ${model.features.join('/')}, ${model.parameters.toLocaleString('en')} parameters, ${model.weights}` : 'No model loaded.'}
      </p>
      {model?.weights.startsWith('default weights') && (
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
      <button disabled={!model || !!busy} onClick={() => runSegmentation(probabilities)}>
        Segment lesions
      </button>
    </section>
  );
}
