/**
 * The harness stands in for what Premiere gives a UXP panel: its theme as the `--uxp-host-*`
 * CSS variables (?theme=dark|light; Premiere's dark and light themes), the built-in Spectrum UXP
 * widgets the panel uses (`sp-button`, `sp-action-button`, `sp-body`, `sp-detail`,
 * `sp-heading`: built into UXP, unknown to a browser, so drawn here with Spectrum-like CSS over
 * the same markup), and the panel's size (?size=360x560: docked).
 * Harness-only: the plugin bundle has none of this.
 */
const THEMES = {
  dark: {
    '--uxp-host-background-color': '#232323',
    '--uxp-host-text-color': '#d8d8d8',
    '--uxp-host-text-color-secondary': '#9a9a9a',
    '--uxp-host-border-color': '#3e3e3e',
    '--uxp-host-link-text-color': '#4a9eff',
    '--uxp-host-label-text-color': '#a8a8a8',
    '--uxp-host-widget-hover-background-color': '#333333',
    '--uxp-host-font-size': '12px',
    '--uxp-host-font-size-smaller': '11px',
    '--uxp-host-font-size-larger': '14px',
  },
  light: {
    '--uxp-host-background-color': '#f0f0f0',
    '--uxp-host-text-color': '#222222',
    '--uxp-host-text-color-secondary': '#5c5c5c',
    '--uxp-host-border-color': '#c8c8c8',
    '--uxp-host-link-text-color': '#1473e6',
    '--uxp-host-label-text-color': '#4b4b4b',
    '--uxp-host-widget-hover-background-color': '#e2e2e2',
    '--uxp-host-font-size': '12px',
    '--uxp-host-font-size-smaller': '11px',
    '--uxp-host-font-size-larger': '14px',
  },
} as const;

const SPECTRUM_TYPOGRAPHY = `
sp-body { display: block; font-size: 12px; line-height: 1.4; }
sp-body[size="XS"] { font-size: 11px; }
sp-detail { display: block; font-size: 10px; letter-spacing: 0.02em; line-height: 1.4; }
sp-heading { display: block; font-weight: bold; font-size: 14px; margin: 8px 0 4px; }
sp-button, sp-action-button {
  display: inline-flex; align-items: center; box-sizing: border-box; cursor: pointer; user-select: none;
  font-size: 12px; font-weight: bold; color: var(--uxp-host-text-color); background: transparent;
}
sp-button { min-height: 24px; padding: 2px 12px; border-radius: 12px; border: 2px solid var(--uxp-host-text-color-secondary); }
sp-button[variant="cta"] { background: #1473e6; border-color: #1473e6; color: #fff; }
sp-action-button { min-height: 24px; padding: 2px 8px; border-radius: 4px; border: 1px solid var(--uxp-host-border-color); font-weight: normal; }
sp-action-button[quiet] { border-color: transparent; }
sp-action-button[selected] { background: var(--uxp-host-widget-hover-background-color); }
sp-button:hover, sp-action-button:hover { background: var(--uxp-host-widget-hover-background-color); }
sp-button[variant="cta"]:hover { background: #0d66d0; }
sp-button[disabled], sp-action-button[disabled] { opacity: 0.4; cursor: default; pointer-events: none; }
`;

export type HarnessTheme = keyof typeof THEMES;

export function applyHarnessTheme(q: URLSearchParams): HarnessTheme {
  const theme: HarnessTheme = q.get('theme') === 'light' ? 'light' : 'dark';
  const root = document.documentElement;
  for (const [k, v] of Object.entries(THEMES[theme])) root.style.setProperty(k, v);
  root.style.colorScheme = theme;
  root.dataset.theme = theme;
  const size = /^(\d+)x(\d+)$/.exec(q.get('size') ?? '');
  if (size) {
    root.style.setProperty('--harness-w', `${size[1]}px`);
    root.style.setProperty('--harness-h', `${size[2]}px`);
  }
  const style = document.createElement('style');
  style.textContent = SPECTRUM_TYPOGRAPHY;
  document.head.appendChild(style);
  return theme;
}
