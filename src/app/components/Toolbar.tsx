import { useRef } from 'react';
import { openFiles, openPhantom, openSample } from '../actions';
import { readFiles } from '../engine-client';
import { useStore } from '../store';
import { CT_PRESETS, type PresetName } from '../../viewer/presets';

export function Toolbar() {
  const fileInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);
  const preset = useStore((s) => s.preset);
  const setPreset = useStore((s) => s.setPreset);

  const onPick = async (input: HTMLInputElement | null) => {
    const files = Array.from(input?.files ?? []);
    if (input) input.value = '';
    if (files.length) await openFiles(await readFiles(files));
  };

  return (
    <header className="toolbar">
      <strong className="brand">Lesion Workbench</strong>
      <button onClick={() => fileInput.current?.click()}>Open files…</button>
      <button onClick={() => folderInput.current?.click()}>Open folder…</button>
      <input ref={fileInput} data-testid="file-input" type="file" multiple hidden onChange={(e) => onPick(e.currentTarget)} />
      <input
        ref={folderInput}
        type="file"
        hidden
        // Non-standard but universally supported attribute for picking a whole folder.
        {...({ webkitdirectory: '' } as Record<string, string>)}
        onChange={(e) => onPick(e.currentTarget)}
      />
      <select
        aria-label="Samples"
        value=""
        onChange={(e) => {
          const v = e.currentTarget.value;
          if (v === 'ct') void openSample();
          else if (v === 'phantom') void openPhantom(1);
          else if (v === 'new-phantom') void openPhantom(Math.floor(Math.random() * 1e9));
        }}
      >
        <option value="">Samples…</option>
        <option value="ct">Abdominal CT (TotalSegmentator)</option>
        <option value="phantom">Chest phantom, 3 observers</option>
        <option value="new-phantom">Generate a new phantom case</option>
      </select>
      <span className="spacer" />
      <span className="label">Window</span>
      {(Object.keys(CT_PRESETS) as PresetName[]).map((name) => (
        <button key={name} className={name === preset ? 'active' : ''} onClick={() => setPreset(name)} title={`W${CT_PRESETS[name].width} / L${CT_PRESETS[name].level}`}>
          {name}
        </button>
      ))}
    </header>
  );
}
