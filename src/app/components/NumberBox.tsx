/** A number input for a run option: an empty box while the value is not a number (half typed), the number otherwise. */
export function NumberBox(props: { value: number; onChange: (value: number) => void; disabled: boolean; label: string; testId: string; min: number; max?: number; step: number | 'any'; width: string }) {
  return (
    <input
      type="number"
      min={props.min}
      max={props.max}
      step={props.step}
      value={Number.isFinite(props.value) ? props.value : ''}
      onChange={(e) => props.onChange(e.target.valueAsNumber)}
      disabled={props.disabled}
      aria-label={props.label}
      data-testid={props.testId}
      style={{ width: props.width }}
    />
  );
}
