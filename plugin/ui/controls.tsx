/**
 * Native form controls as UXP needs them (Adobe's UXP known issues):
 *  - `<select value>` does not show the value in UXP: the value is also set as an attribute and
 *    as `selected` on its option, and every option has a value attribute;
 *  - `<textarea rows>` is ignored: height comes from CSS (a line count here);
 *  - a problem is shown under its own field (`FieldProblem`), every one at once.
 * UXP draws these native controls as Spectrum widgets in the host's theme.
 */
import { useLayoutEffect, useRef, type ReactNode } from 'react';

export function Select<T extends string>(props: {
  value: T;
  options: readonly { value: T; label: string }[];
  onChange: (v: T) => void;
  testId?: string;
  disabled?: boolean;
}) {
  const ref = useRef<HTMLSelectElement>(null);
  useLayoutEffect(() => {
    ref.current?.setAttribute('value', props.value);
  }, [props.value]);
  return (
    <select ref={ref} data-testid={props.testId} value={props.value} disabled={props.disabled} onChange={(e) => props.onChange(e.target.value as T)}>
      {props.options.map((o) => (
        <option key={o.value} value={o.value}>
          {o.label}
        </option>
      ))}
    </select>
  );
}

/** A textarea `lines` lines high (by CSS: UXP ignores rows). */
export function TextArea(props: { value: string; onChange: (v: string) => void; lines: number; testId?: string; placeholder?: string; invalid?: boolean }) {
  return (
    <textarea
      data-testid={props.testId}
      className={props.invalid ? 'rs-invalid' : undefined}
      style={{ height: `${props.lines * 1.5 + 0.8}em` }}
      placeholder={props.placeholder}
      value={props.value}
      onChange={(e) => props.onChange(e.target.value)}
    />
  );
}

/** What is wrong with one field, right under it. */
export function FieldProblem({ problem, testId }: { problem: string | undefined; testId: string }): ReactNode {
  return problem ? (
    <div className="rs-field-problem" data-testid={`problem-${testId}`}>
      {problem}
    </div>
  ) : null;
}
