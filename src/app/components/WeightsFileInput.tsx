import { useRef } from 'react';

/** Checkpoint formats the weights readers accept (torch zip/pickle and safetensors). */
const WEIGHTS_ACCEPT = '.pt,.pth,.safetensors';

/**
 * A button that opens a hidden picker for one weights file and hands the file on. The picker is
 * cleared before the handler runs so that picking the same file again fires once more.
 */
export function WeightsFileInput({ label, testId, onFile }: { label: string; testId: string; onFile: (file: File) => Promise<void> }) {
  const input = useRef<HTMLInputElement>(null);
  return (
    <>
      <button onClick={() => input.current?.click()}>{label}</button>
      <input
        ref={input}
        data-testid={testId}
        type="file"
        accept={WEIGHTS_ACCEPT}
        hidden
        onChange={async (e) => {
          const f = e.currentTarget.files?.[0];
          e.currentTarget.value = '';
          if (f) await onFile(f);
        }}
      />
    </>
  );
}
