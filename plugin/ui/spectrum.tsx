/**
 * Spectrum UXP widgets for React. UXP draws `sp-button` / `sp-action-button` natively in the
 * host's theme (Adobe's "Spectrum UXP Widgets"); React does not attach event listeners to custom
 * elements (Adobe's "Using with React"), so clicks are listened to through a ref, boolean
 * attributes are present or absent, and a disabled widget ignores clicks. `aria-disabled`
 * mirrors `disabled` so assistive tools (and the browser tests) see the state.
 * The harness draws the same elements with Spectrum-like CSS (harness/theme.ts).
 */
import { useEffect, useRef, type ReactNode } from 'react';
import './spectrumTypes.ts';

export interface ButtonProps {
  onClick: () => void;
  children: ReactNode;
  disabled?: boolean;
  /** cta: the form's one main action; secondary: the rest. */
  variant?: 'cta' | 'primary' | 'secondary';
  /** An action button (tabs, small commands) instead of a pill button. */
  action?: boolean;
  quiet?: boolean;
  selected?: boolean;
  title?: string;
  testId?: string;
  className?: string;
}

export function Button({ onClick, children, disabled, variant = 'secondary', action, quiet, selected, title, testId, className }: ButtonProps) {
  const ref = useRef<HTMLElement>(null);
  const handler = useRef(onClick);
  handler.current = onClick;
  useEffect(() => {
    const el = ref.current!;
    const listen = () => {
      if (!el.hasAttribute('disabled')) handler.current();
    };
    el.addEventListener('click', listen);
    return () => el.removeEventListener('click', listen);
  }, []);
  const common = {
    ref,
    class: className,
    title,
    'data-testid': testId,
    disabled: disabled ? true : undefined,
    'aria-disabled': disabled ? 'true' : undefined,
    quiet: quiet ? true : undefined,
    role: 'button',
  } as const;
  return action ? (
    <sp-action-button {...common} selected={selected ? true : undefined}>
      {children}
    </sp-action-button>
  ) : (
    <sp-button {...common} variant={variant}>
      {children}
    </sp-button>
  );
}
