/**
 * Form controls as UXP needs them: every field is a Spectrum UXP widget (spectrum.tsx), drawn
 * natively by UXP in the host's theme —
 *  - `Select`: `sp-picker` / `sp-menu` / `sp-menu-item`, the value shown by `selected` on its item;
 *  - `TextArea`: `sp-textarea`, its height from CSS (a line count: UXP ignores rows);
 *  - a problem is shown under its own field (`FieldProblem`), every one at once.
 */
import type { ReactNode } from 'react';

export { Button, Checkbox, Picker as Select, RadioGroup, Slider, TextArea, TextField } from './spectrum.tsx';

/** What is wrong with one field, right under it. */
export function FieldProblem({ problem, testId }: { problem: string | undefined; testId: string }): ReactNode {
  return problem ? (
    <div className="rs-field-problem" data-testid={`problem-${testId}`}>
      {problem}
    </div>
  ) : null;
}
