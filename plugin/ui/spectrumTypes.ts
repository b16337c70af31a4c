/**
 * JSX types for the Spectrum UXP widgets the panel uses (`sp-*` elements, built into UXP: Adobe's
 * "Spectrum UXP Widgets" reference). React treats them as custom elements: `class`, not
 * `className`; boolean attributes present or absent; events attached by ref (spectrum.tsx).
 */
import type { DetailedHTMLProps, HTMLAttributes } from 'react';

type SpProps = DetailedHTMLProps<HTMLAttributes<HTMLElement>, HTMLElement> & {
  class?: string;
  size?: string;
  variant?: string;
  quiet?: boolean;
  disabled?: boolean;
  selected?: boolean;
  checked?: boolean;
  invalid?: boolean;
  value?: string | number;
  placeholder?: string;
  type?: string;
  max?: number;
  multiline?: boolean;
  slot?: string;
  min?: number;
  step?: number;
  name?: string;
  'data-testid'?: string;
};

type SpTags =
  | 'sp-body'
  | 'sp-detail'
  | 'sp-heading'
  | 'sp-label'
  | 'sp-divider'
  | 'sp-button'
  | 'sp-action-button'
  | 'sp-link'
  | 'sp-progressbar'
  | 'sp-checkbox'
  | 'sp-textfield'
  | 'sp-textarea'
  | 'sp-picker'
  | 'sp-menu'
  | 'sp-menu-item'
  | 'sp-help-text'
  | 'sp-radio-group'
  | 'sp-radio'
  | 'sp-slider';

declare module 'react' {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace JSX {
    type SpIntrinsics = { [K in SpTags]: SpProps };
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface IntrinsicElements extends SpIntrinsics {}
  }
}
