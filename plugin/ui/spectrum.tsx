/**
 * Spectrum UXP widgets for React. UXP draws `sp-button` / `sp-action-button` natively in the
 * host's theme (Adobe's "Spectrum UXP Widgets"); React does not attach event listeners to custom
 * elements (Adobe's "Using with React"), so clicks are listened to through a ref, boolean
 * attributes are present or absent, and a disabled widget ignores clicks. `aria-disabled`
 * mirrors `disabled` so assistive tools (and the browser tests) see the state.
 * Fields (`sp-textfield`, `sp-textarea`, `sp-picker`, `sp-checkbox`) get their value as a
 * property and report through `input` / `change` listened to by ref (`useSpEvent`).
 * The harness draws the same elements with Spectrum-like CSS (harness/theme.ts) and defines the
 * fields over native controls (harness/spectrumShim.ts).
 */
import { useEffect, useLayoutEffect, useRef, type CSSProperties, type ReactNode, type RefObject } from 'react';
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
  style?: CSSProperties;
  /** Extra `data-*` attributes (names without the `data-` prefix). */
  data?: Record<string, string | number | undefined>;
}

export function Button({ onClick, children, disabled, variant = 'secondary', action, quiet, selected, title, testId, className, style, data }: ButtonProps) {
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
    style,
    ...Object.fromEntries(Object.entries(data ?? {}).map(([k, v]) => [`data-${k}`, v === undefined ? undefined : String(v)])),
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

/**
 * Listens to a DOM event on a Spectrum widget through its ref (React 18 wires no onChange/onInput
 * on custom elements); the latest handler is always the one called.
 */
export function useSpEvent<E extends HTMLElement>(ref: RefObject<E | null>, type: 'input' | 'change', handler: (el: E) => void) {
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => {
    const el = ref.current!;
    const listen = (e: Event) => {
      if (e.target === el) latest.current(el);
    };
    el.addEventListener(type, listen);
    return () => el.removeEventListener(type, listen);
  }, [ref, type]);
}

type SpValueElement = HTMLElement & { value?: string; checked?: boolean; selectedIndex?: number };

/** Sets a widget's value as a property (and attribute), only when it differs (keeps the caret). */
function useSpValue(ref: RefObject<SpValueElement | null>, value: string) {
  useLayoutEffect(() => {
    const el = ref.current!;
    if (el.value !== value) el.value = value;
    if (el.getAttribute('value') !== value) el.setAttribute('value', value);
  }, [ref, value]);
}

export interface TextFieldProps {
  value: string | number;
  onChange: (v: string) => void;
  testId?: string;
  placeholder?: string;
  /** number: UXP's numeric text field. */
  type?: 'text' | 'number';
  min?: number;
  max?: number;
  disabled?: boolean;
  invalid?: boolean;
  className?: string;
  title?: string;
}

/** `sp-textfield`: a one-line text or number field; onChange on every keystroke (`input`). */
export function TextField({ value, onChange, testId, placeholder, type, min, max, disabled, invalid, className, title }: TextFieldProps) {
  const ref = useRef<SpValueElement>(null);
  useSpValue(ref, String(value));
  useSpEvent(ref, 'input', (el) => onChange(String(el.value ?? '')));
  return (
    <sp-textfield
      ref={ref}
      class={[className, invalid ? 'rs-invalid' : ''].filter(Boolean).join(' ') || undefined}
      data-testid={testId}
      placeholder={placeholder}
      type={type}
      min={min}
      max={max}
      title={title}
      disabled={disabled ? true : undefined}
      aria-disabled={disabled ? 'true' : undefined}
      invalid={invalid ? true : undefined}
    />
  );
}

/** `sp-textarea`: a text area `lines` lines high (by CSS: UXP ignores rows). */
export function TextArea(props: { value: string; onChange: (v: string) => void; lines: number; testId?: string; placeholder?: string; invalid?: boolean }) {
  const ref = useRef<SpValueElement>(null);
  useSpValue(ref, props.value);
  useSpEvent(ref, 'input', (el) => props.onChange(String(el.value ?? '')));
  return (
    <sp-textarea
      ref={ref}
      class={props.invalid ? 'rs-invalid' : undefined}
      data-testid={props.testId}
      placeholder={props.placeholder}
      invalid={props.invalid ? true : undefined}
      style={{ display: 'block', width: '100%', height: `${props.lines * 1.5 + 0.8}em` }}
    />
  );
}

/**
 * `sp-picker` with an `sp-menu` of `sp-menu-item`s (UXP's dropdown). The chosen item carries
 * `selected` (how UXP shows the value) and the picker's `value` is set as a property too; a change
 * is read from `selectedIndex` (UXP) or `value`.
 */
export function Picker<T extends string>(props: {
  value: T;
  options: readonly { value: T; label: string }[];
  onChange: (v: T) => void;
  testId?: string;
  disabled?: boolean;
}) {
  const ref = useRef<SpValueElement>(null);
  useSpValue(ref, props.value);
  useSpEvent(ref, 'change', (el) => {
    const i = el.selectedIndex;
    const v = typeof i === 'number' && i >= 0 && i < props.options.length ? props.options[i]!.value : (el.value as T);
    if (v !== undefined && v !== props.value) props.onChange(v);
  });
  return (
    <sp-picker
      ref={ref}
      data-testid={props.testId}
      size="S"
      disabled={props.disabled ? true : undefined}
      aria-disabled={props.disabled ? 'true' : undefined}
    >
      <sp-menu slot="options">
        {props.options.map((o) => (
          <sp-menu-item key={o.value} value={o.value} selected={o.value === props.value ? true : undefined}>
            {o.label}
          </sp-menu-item>
        ))}
      </sp-menu>
    </sp-picker>
  );
}

/** `sp-checkbox`: `checked` set as a property and attribute; its label is its children. */
export function Checkbox(props: { checked: boolean; onChange: (v: boolean) => void; children: ReactNode; testId?: string; disabled?: boolean; className?: string }) {
  const ref = useRef<SpValueElement>(null);
  useLayoutEffect(() => {
    const el = ref.current!;
    if (el.checked !== props.checked) el.checked = props.checked;
    el.toggleAttribute('checked', props.checked);
  }, [props.checked]);
  useSpEvent(ref, 'change', (el) => props.onChange(Boolean(el.checked)));
  return (
    <sp-checkbox ref={ref} class={props.className} data-testid={props.testId} disabled={props.disabled ? true : undefined}>
      {props.children}
    </sp-checkbox>
  );
}

/**
 * `sp-radio-group` of `sp-radio`s (UXP's radio buttons). The group's value is set as its `selected`
 * and `value` properties and attributes, the chosen radio carries `checked`; a change is the
 * group's `change` event, read from `selected` (UXP) or `value`.
 */
export function RadioGroup<T extends string>(props: {
  value: T;
  options: readonly { value: T; label: ReactNode; testId?: string; title?: string }[];
  onChange: (v: T) => void;
  testId?: string;
  className?: string;
}) {
  const ref = useRef<SpValueElement & { selected?: string }>(null);
  useLayoutEffect(() => {
    const el = ref.current!;
    if (el.selected !== props.value) el.selected = props.value;
    if (el.value !== props.value) el.value = props.value;
    if (el.getAttribute('selected') !== props.value) el.setAttribute('selected', props.value);
    if (el.getAttribute('value') !== props.value) el.setAttribute('value', props.value);
  }, [props.value]);
  useSpEvent(ref, 'change', (el) => {
    const v = (el.selected ?? el.value) as T | undefined;
    if (v !== undefined && v !== props.value && props.options.some((o) => o.value === v)) props.onChange(v);
  });
  return (
    <sp-radio-group ref={ref} class={props.className} data-testid={props.testId}>
      {props.options.map((o) => (
        <sp-radio key={o.value} value={o.value} data-testid={o.testId} title={o.title} checked={o.value === props.value ? true : undefined}>
          {o.label}
        </sp-radio>
      ))}
    </sp-radio-group>
  );
}

/** `sp-slider`: min/max/value set as properties and attributes; onChange on every `input`. */
export function Slider(props: { value: number; min: number; max: number; step?: number; onChange: (v: number) => void; testId?: string; style?: CSSProperties }) {
  const ref = useRef<SpValueElement>(null);
  useLayoutEffect(() => {
    const el = ref.current! as SpValueElement & { min?: number; max?: number };
    el.setAttribute('min', String(props.min));
    el.setAttribute('max', String(props.max));
    el.min = props.min;
    el.max = props.max;
  }, [props.min, props.max]);
  useSpValue(ref, String(props.value));
  useSpEvent(ref, 'input', (el) => {
    const v = Number(el.value);
    if (Number.isFinite(v)) props.onChange(v);
  });
  return <sp-slider ref={ref} data-testid={props.testId} step={props.step} style={props.style} />;
}
