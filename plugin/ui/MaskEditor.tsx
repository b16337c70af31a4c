/**
 * The mask editor: the frame under the scrubber as an <img> (UXP's canvas cannot draw images),
 * with an SVG overlay in frame pixels (viewBox = width×height), so shapes are stored in
 * sequence pixels whatever size the panel is. Tools: select (move, resize handles, polygon
 * points), rectangle, ellipse, polygon (click points; close on the first point or Enter).
 * Keyframes at any frame; between them shapes move linearly and before the first/after the
 * last they hold — the same function (protocol/maskInterpolate.ts) the companion rasterises
 * with. Or the mask is a matte clip from the track above (the host picks it: onPickMatte).
 *
 * Pointer events only (UXP has no drag and drop); hit testing is done here in frame pixels
 * rather than by SVG element events, which UXP's SVG does not promise.
 * Keys (editor focused): Delete/Backspace removes the selected shape, Escape cancels a
 * polygon in progress (or deselects), Enter closes a polygon, arrows nudge (Shift: 10 px).
 * Editing a shape where it has no keyframe adds one there (auto-key); Alt-drag / Alt+arrows
 * move it at every keyframe instead.
 */
import { useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent, type PointerEvent, type ReactNode } from 'react';
import { Button, Checkbox, RadioGroup, Select, Slider, TextField } from './controls.tsx';
import type { Rational } from '../../protocol/rational.ts';
import { draftToMaskSpec, type DraftMatte, type DraftShape, type MaskDraft, type ShapeMode } from '../mask/draft.ts';
import {
  HANDLES,
  addKeyframe,
  fromDrag,
  handlePoint,
  hasKeyframe,
  keyframeFrames,
  movePoint,
  newShape,
  nextShapeId,
  removeKeyframe,
  removeShape,
  resize,
  roundPoint,
  setShapeAt,
  shapeAt,
  shapeUnder,
  timecode,
  translate,
  translateAll,
  updateShape,
  type Handle,
  type Point,
  type ShapeGeometry,
} from '../mask/edit.ts';

export interface MaskEditorProps {
  /** The frame under the scrubber as an image URL (file:… in UXP); absent = a plain backdrop. */
  frameUrl?: string;
  /** Frame size in sequence pixels: shapes are stored in these units. */
  width: number;
  height: number;
  fps: Rational;
  /** Frames in the job's range; the scrubber runs 0..durationFrames-1 (frames count from the job's first frame). */
  durationFrames: number;
  value: MaskDraft;
  onChange(d: MaskDraft): void;
  /** The scrubber moved to `frame` (also called once on mount when no frameUrl is given): export that frame. */
  onRequestFrame?(frame: number): void;
  /** "Matte from track above" chosen (with no matte yet) or "Pick" pressed; may resolve to the matte to use. */
  onPickMatte?(): void | Promise<DraftMatte | null | undefined>;
}

type Tool = 'select' | 'rectangle' | 'ellipse' | 'polygon';

type Drag =
  | { type: 'create'; kind: 'rectangle' | 'ellipse'; a: Point; base: MaskDraft; id: string }
  | { type: 'move'; id: string; p0: Point; g0: ShapeGeometry; base: MaskDraft; all: boolean }
  | { type: 'resize'; id: string; handle: Handle; g0: ShapeGeometry; base: MaskDraft }
  | { type: 'vertex'; id: string; index: number; g0: Extract<ShapeGeometry, { kind: 'polygon' }>; base: MaskDraft };

const TOOLS: { tool: Tool; label: string; title: string }[] = [
  { tool: 'select', label: 'Select', title: 'Select, move and resize shapes (V)' },
  { tool: 'rectangle', label: '▭ Rect', title: 'Draw a rectangle: drag on the frame (Shift: square)' },
  { tool: 'ellipse', label: '◯ Ellipse', title: 'Draw an ellipse: drag on the frame (Shift: circle)' },
  { tool: 'polygon', label: '⬠ Polygon', title: 'Draw a polygon: click points; click the first point or press Enter to close, Escape to cancel' },
];

const KIND_ICON: Record<DraftShape['kind'], string> = { rectangle: '▭', ellipse: '◯', polygon: '⬠' };
const ADD_COLOR = '#4a9eff';
const SUB_COLOR = '#ff7b6e';
/** Screen pixels: handle half-size, hit slop, smallest drag that makes a shape. */
const HANDLE_PX = 4;
const HIT_PX = 6;
const MIN_DRAG_PX = 3;
const SCRUB_MS = 120;

function safeShapeAt(s: DraftShape, frame: number): ShapeGeometry | null {
  try {
    return shapeAt(s, frame);
  } catch {
    return null; // e.g. polygon keyframes with different point counts from a hand-made draft
  }
}

function Geometry({ g, ...attrs }: { g: ShapeGeometry } & Record<string, unknown>): ReactNode {
  if (g.kind === 'rectangle') return <rect x={g.x} y={g.y} width={Math.max(0, g.width)} height={Math.max(0, g.height)} {...attrs} />;
  if (g.kind === 'ellipse') return <ellipse cx={g.cx} cy={g.cy} rx={Math.max(0, g.rx)} ry={Math.max(0, g.ry)} {...attrs} />;
  return <polygon points={g.points.map((p) => `${p[0]},${p[1]}`).join(' ')} {...attrs} />;
}

export function MaskEditor({ frameUrl, width, height, fps, durationFrames, value, onChange, onRequestFrame, onPickMatte }: MaskEditorProps) {
  const lastFrame = Math.max(0, durationFrames - 1);
  const [frameState, setFrameState] = useState(0);
  const frame = Math.min(Math.max(0, frameState), lastFrame);
  const [tool, setTool] = useState<Tool>('select');
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [live, setLive] = useState<MaskDraft | null>(null);
  const [poly, setPoly] = useState<Point[] | null>(null);
  const [hover, setHover] = useState<Point | null>(null);
  const [picking, setPicking] = useState(false);
  const [pickError, setPickError] = useState<string | null>(null);
  const drag = useRef<Drag | null>(null);
  const rootRef = useRef<HTMLDivElement>(null);
  const stageRef = useRef<HTMLDivElement>(null);
  const [stageWidth, setStageWidth] = useState(0);

  // The stage keeps the frame's aspect at whatever width the panel gives it.
  useLayoutEffect(() => {
    const el = stageRef.current;
    if (!el) return;
    const measure = () => setStageWidth(el.clientWidth);
    measure();
    const RO = (globalThis as { ResizeObserver?: typeof ResizeObserver }).ResizeObserver;
    if (RO) {
      const ro = new RO(measure);
      ro.observe(el);
      return () => ro.disconnect();
    }
    window.addEventListener('resize', measure);
    return () => window.removeEventListener('resize', measure);
  }, []);

  useEffect(() => {
    if (!frameUrl) onRequestFrame?.(frame);
    // Once, on mount: later frames are asked for by the scrubber.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const draft = live ?? value;
  const shapes = draft.shapes;
  const selected = shapes.find((s) => s.id === selectedId) ?? null;
  /** Frame pixels per screen pixel. */
  const scale = stageWidth > 0 ? width / stageWidth : 1;
  const matte = draft.source === 'matte';

  // Dragging the scrubber asks for a frame once it rests (SCRUB_MS), not for every frame it
  // passes: a host export takes a while. Other moves (keys, frame field) ask at once.
  const pendingRequest = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => void (pendingRequest.current && clearTimeout(pendingRequest.current)), []);
  const gotoFrame = (f: number, scrubbing = false) => {
    const n = Math.min(Math.max(0, Math.round(f)), lastFrame);
    if (!Number.isFinite(n)) return;
    setFrameState(n);
    const pending = pendingRequest.current;
    if (pending) clearTimeout(pending);
    pendingRequest.current = null;
    if (n === frame && !pending) return; // already showing (or asked for) this frame
    if (scrubbing) {
      pendingRequest.current = setTimeout(() => {
        pendingRequest.current = null;
        onRequestFrame?.(n);
      }, SCRUB_MS);
    } else onRequestFrame?.(n);
  };

  const toFrame = (e: { clientX: number; clientY: number }): Point => {
    const r = stageRef.current!.getBoundingClientRect();
    return [((e.clientX - r.left) / (r.width || 1)) * width, ((e.clientY - r.top) / (r.height || 1)) * height];
  };

  const finishPolygon = (points: Point[]) => {
    if (points.length < 3) return;
    const id = nextShapeId(value);
    onChange({ ...value, shapes: [...value.shapes, newShape(id, { kind: 'polygon', points }, frame)] });
    setSelectedId(id);
    setPoly(null);
    setHover(null);
    setTool('select');
  };

  const cancelDrag = () => {
    drag.current = null;
    setLive(null);
  };

  const onPointerDown = (e: PointerEvent<HTMLDivElement>) => {
    if (matte || e.button !== 0) return;
    rootRef.current?.focus();
    const p = toFrame(e);
    try {
      stageRef.current?.setPointerCapture?.(e.pointerId);
    } catch {
      /* not every host captures */
    }
    if (tool === 'polygon') {
      const q = roundPoint(p);
      if (poly && poly.length >= 3 && Math.hypot(p[0] - poly[0]![0], p[1] - poly[0]![1]) <= HIT_PX * scale) {
        finishPolygon(poly);
      } else {
        setPoly([...(poly ?? []), q]);
      }
      return;
    }
    if (tool === 'rectangle' || tool === 'ellipse') {
      drag.current = { type: 'create', kind: tool, a: roundPoint(p), base: value, id: nextShapeId(value) };
      return;
    }
    // Select tool: the selected shape's handles first, then the topmost shape under the pointer.
    const slop = HIT_PX * scale;
    if (selected) {
      const g = safeShapeAt(selected, frame);
      if (g?.kind === 'polygon') {
        const i = g.points.findIndex((q) => Math.hypot(p[0] - q[0], p[1] - q[1]) <= slop);
        if (i >= 0) {
          drag.current = { type: 'vertex', id: selected.id, index: i, g0: g, base: value };
          return;
        }
      }
      if (g) {
        const h = HANDLES.find((h) => {
          const q = handlePoint(g, h);
          return Math.abs(p[0] - q[0]) <= slop && Math.abs(p[1] - q[1]) <= slop;
        });
        if (h) {
          drag.current = { type: 'resize', id: selected.id, handle: h, g0: g, base: value };
          return;
        }
      }
    }
    const hit = shapeUnder(value.shapes, frame, p, slop / 2);
    setSelectedId(hit?.id ?? null);
    if (hit) {
      const g = safeShapeAt(hit, frame);
      // Alt-drag moves the shape at every keyframe (the whole path), keying nothing new.
      if (g) drag.current = { type: 'move', id: hit.id, p0: p, g0: g, base: value, all: e.altKey };
    }
  };

  const onPointerMove = (e: PointerEvent<HTMLDivElement>) => {
    if (matte) return;
    const p = toFrame(e);
    const d = drag.current;
    if (!d) {
      if (tool === 'polygon' && poly) setHover(p);
      return;
    }
    const q = roundPoint(p);
    switch (d.type) {
      case 'create': {
        const g = fromDrag(d.kind, d.a, q, e.shiftKey);
        setLive({ ...d.base, shapes: [...d.base.shapes, newShape(d.id, g, frame)] });
        break;
      }
      case 'move': {
        const [dx, dy] = roundPoint([p[0] - d.p0[0], p[1] - d.p0[1]]);
        if (dx === 0 && dy === 0 && !live) return; // a click selects; it does not key
        setLive(updateShape(d.base, d.id, (s) => (d.all ? translateAll(s, dx, dy) : setShapeAt(s, frame, translate(d.g0, dx, dy)))));
        break;
      }
      case 'resize':
        setLive(updateShape(d.base, d.id, (s) => setShapeAt(s, frame, resize(d.g0, d.handle, q))));
        break;
      case 'vertex':
        setLive(updateShape(d.base, d.id, (s) => setShapeAt(s, frame, movePoint(d.g0, d.index, q))));
        break;
    }
  };

  const onPointerUp = (e: PointerEvent<HTMLDivElement>) => {
    const d = drag.current;
    drag.current = null;
    try {
      stageRef.current?.releasePointerCapture?.(e.pointerId);
    } catch {
      /* ignore */
    }
    if (!d || !live) {
      setLive(null);
      return;
    }
    if (d.type === 'create') {
      const p = toFrame(e);
      const small = Math.abs(p[0] - d.a[0]) < MIN_DRAG_PX * scale || Math.abs(p[1] - d.a[1]) < MIN_DRAG_PX * scale;
      setLive(null);
      if (small) return;
      onChange(live);
      setSelectedId(d.id);
      setTool('select');
      return;
    }
    setLive(null);
    onChange(live);
  };

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    const tag = (e.target as HTMLElement).tagName;
    const typing = ['INPUT', 'TEXTAREA', 'SELECT', 'SP-TEXTFIELD', 'SP-TEXTAREA', 'SP-PICKER', 'SP-SLIDER'].includes(tag);
    if (e.key === 'Escape') {
      if (poly) {
        setPoly(null);
        setHover(null);
      } else if (drag.current) cancelDrag();
      else if (!typing) setSelectedId(null);
      e.preventDefault();
      return;
    }
    if (typing) return;
    if (e.key === 'Enter' && poly) {
      finishPolygon(poly);
      e.preventDefault();
    } else if ((e.key === 'Delete' || e.key === 'Backspace') && !poly && selected) {
      onChange(removeShape(value, selected.id));
      setSelectedId(null);
      e.preventDefault();
    } else if (e.key.startsWith('Arrow') && selected && !poly) {
      // Nudge: 1 px (Shift: 10 px) at this frame; Alt: at every keyframe.
      const step = e.shiftKey ? 10 : 1;
      const dx = e.key === 'ArrowLeft' ? -step : e.key === 'ArrowRight' ? step : 0;
      const dy = e.key === 'ArrowUp' ? -step : e.key === 'ArrowDown' ? step : 0;
      const g = safeShapeAt(selected, frame);
      if (g) onChange(updateShape(value, selected.id, (s) => (e.altKey ? translateAll(s, dx, dy) : setShapeAt(s, frame, translate(g, dx, dy)))));
      e.preventDefault();
    } else if ((e.key === 'Delete' || e.key === 'Backspace') && poly) {
      setPoly(poly.length > 1 ? poly.slice(0, -1) : null);
      e.preventDefault();
    }
  };

  // Keyframe commands act on the selected shape, or on every shape when none is selected.
  const targets = selected ? [selected] : shapes;
  const keyed = targets.length > 0 && targets.every((s) => hasKeyframe(s, frame));
  const removable = targets.some((s) => hasKeyframe(s, frame) && s.keyframes.length > 1);
  const keyFrames = keyframeFrames(targets);
  const prevKey = [...keyFrames].reverse().find((f) => f < frame);
  const nextKey = keyFrames.find((f) => f > frame);
  const applyToTargets = (f: (s: DraftShape) => DraftShape) => {
    const ids = new Set(targets.map((s) => s.id));
    onChange({ ...value, shapes: value.shapes.map((s) => (ids.has(s.id) ? f(s) : s)) });
    rootRef.current?.focus(); // the pressed button may turn disabled and drop focus; keep the keys working
  };

  const pickMatte = async () => {
    setPickError(null);
    if (!onPickMatte) return;
    setPicking(true);
    try {
      const m = await onPickMatte();
      if (m) onChange({ ...value, source: 'matte', matte: m });
    } catch (err) {
      setPickError(err instanceof Error ? err.message : String(err));
    } finally {
      setPicking(false);
    }
  };

  const setSource = (source: MaskDraft['source']) => {
    if (source === value.source) return;
    onChange({ ...value, source });
    if (source === 'matte' && !value.matte) void pickMatte();
  };

  let spec = '';
  try {
    spec = JSON.stringify(draftToMaskSpec(value));
  } catch {
    spec = '';
  }

  const stroke = 1.5 * scale;
  const hs = HANDLE_PX * scale;
  const selectedGeometry = selected ? safeShapeAt(selected, frame) : null;

  return (
    <div
      className="rs-mask"
      data-testid="mask-editor"
      data-mask-spec={spec}
      data-frame={frame}
      data-tool={tool}
      ref={rootRef}
      tabIndex={0}
      onKeyDown={onKeyDown}
      style={{ outline: 'none' }}
    >
      <div className="rs-row" data-testid="mask-source">
        <span className="rs-muted" style={{ marginRight: 6 }}>Source:</span>
        <RadioGroup
          value={matte ? 'matte' : 'shapes'}
          options={[
            { value: 'shapes', label: 'shapes', testId: 'mask-source-shapes' },
            { value: 'matte', label: 'matte from track above', testId: 'mask-source-matte' },
          ]}
          onChange={setSource}
        />
      </div>

      {matte ? null : (
        <div className="rs-row" data-testid="mask-tools">
          {TOOLS.map((t) => (
            <Button
              action
              key={t.tool}
              testId={`mask-tool-${t.tool}`}
              className={t.tool === tool ? 'rs-on' : undefined}
              selected={t.tool === tool}
              title={t.title}
              onClick={() => {
                setTool(t.tool);
                if (t.tool !== 'polygon') {
                  setPoly(null);
                  setHover(null);
                }
              }}
            >
              {t.label}
            </Button>
          ))}
        </div>
      )}

      <div
        ref={stageRef}
        className="rs-mask-stage"
        data-testid="mask-stage"
        style={{
          position: 'relative',
          width: '100%',
          height: stageWidth > 0 ? (stageWidth * height) / width : undefined,
          paddingTop: stageWidth > 0 ? undefined : `${(height / width) * 100}%`,
          background: '#111',
          overflow: 'hidden',
          cursor: matte ? 'default' : tool === 'select' ? 'default' : 'crosshair',
          touchAction: 'none',
          userSelect: 'none',
        }}
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={onPointerUp}
        onPointerCancel={cancelDrag}
      >
        {frameUrl ? (
          <img
            src={frameUrl}
            alt=""
            data-testid="mask-frame-image"
            draggable={false}
            style={{ position: 'absolute', left: 0, top: 0, width: '100%', height: '100%', pointerEvents: 'none' }}
          />
        ) : null}
        <svg
          data-testid="mask-svg"
          viewBox={`0 0 ${width} ${height}`}
          preserveAspectRatio="none"
          style={{ position: 'absolute', left: 0, top: 0, width: '100%', height: '100%', pointerEvents: 'none' }}
        >
          {matte ? null : (
            <>
              {draft.invert ? <rect x={0} y={0} width={width} height={height} fill={ADD_COLOR} fillOpacity={0.25} /> : null}
              {shapes.map((s) => {
                const g = safeShapeAt(s, frame);
                if (!g) return null;
                const generates = (s.mode === 'add') !== draft.invert;
                const color = s.mode === 'add' ? ADD_COLOR : SUB_COLOR;
                const isSel = s.id === selectedId;
                return (
                  <g key={s.id} data-shape-id={s.id}>
                    <Geometry g={g} fill={generates ? ADD_COLOR : '#000'} fillOpacity={generates ? 0.3 : 0.45} stroke="none" />
                    {s.feather > 0 ? (
                      // The feather ramp: a band `feather` wide centred on the outline, as the companion rasterises it.
                      <Geometry g={g} fill="none" stroke={color} strokeOpacity={isSel ? 0.4 : 0.25} strokeWidth={s.feather} strokeLinejoin="round" />
                    ) : null}
                    <Geometry
                      g={g}
                      data-outline="true"
                      fill="none"
                      stroke={color}
                      strokeWidth={isSel ? stroke * 1.5 : stroke}
                      strokeDasharray={hasKeyframe(s, frame) ? undefined : `${4 * scale} ${3 * scale}`}
                    />
                  </g>
                );
              })}
              {selectedGeometry ? (
                <g data-testid="mask-handles">
                  {HANDLES.map((h) => {
                    const [x, y] = handlePoint(selectedGeometry, h);
                    return <rect key={h} x={x - hs} y={y - hs} width={2 * hs} height={2 * hs} fill="#fff" stroke="#000" strokeWidth={scale} />;
                  })}
                  {selectedGeometry.kind === 'polygon'
                    ? selectedGeometry.points.map(([x, y], i) => <circle key={i} cx={x} cy={y} r={hs} fill={ADD_COLOR} stroke="#fff" strokeWidth={scale} />)
                    : null}
                </g>
              ) : null}
              {poly ? (
                <g data-testid="mask-polygon-draft">
                  <polyline
                    points={[...poly, ...(hover ? [hover] : [])].map((p) => `${p[0]},${p[1]}`).join(' ')}
                    fill="none"
                    stroke={ADD_COLOR}
                    strokeWidth={stroke}
                    strokeDasharray={`${4 * scale} ${3 * scale}`}
                  />
                  {poly.map(([x, y], i) => (
                    <circle key={i} cx={x} cy={y} r={i === 0 ? hs * 1.6 : hs} fill={i === 0 ? '#fff' : ADD_COLOR} stroke="#000" strokeWidth={scale} />
                  ))}
                </g>
              ) : null}
            </>
          )}
        </svg>
      </div>

      <div className="rs-row" data-testid="mask-timeline">
        <Button action testId="mask-prev-key" title="Previous keyframe" disabled={prevKey === undefined} onClick={() => prevKey !== undefined && gotoFrame(prevKey)}>
          ◀◆
        </Button>
        <div style={{ flex: 1, minWidth: 120, position: 'relative', margin: '0 4px' }}>
          <Slider testId="mask-frame" min={0} max={lastFrame} step={1} value={frame} onChange={(v) => gotoFrame(v, true)} style={{ display: 'block', width: '100%', margin: 0 }} />
          <div style={{ position: 'relative', height: 8, margin: '0 7px' }} data-testid="mask-key-marks">
            {keyframeFrames(matte ? [] : shapes).map((f) => (
              <span
                key={f}
                data-key-frame={f}
                title={`keyframe at frame ${f}`}
                onClick={() => gotoFrame(f)}
                style={{
                  position: 'absolute',
                  left: `${lastFrame ? (f / lastFrame) * 100 : 0}%`,
                  top: 0,
                  marginLeft: -4,
                  fontSize: 8,
                  lineHeight: '8px',
                  cursor: 'pointer',
                  color: keyFrames.includes(f) ? '#ffd24a' : '#888',
                }}
              >
                ◆
              </span>
            ))}
          </div>
        </div>
        <Button action testId="mask-next-key" title="Next keyframe" disabled={nextKey === undefined} onClick={() => nextKey !== undefined && gotoFrame(nextKey)}>
          ◆▶
        </Button>
      </div>
      <div className="rs-row rs-small">
        <label>
          frame{' '}
          <TextField
            type="number"
            className="rs-num"
            testId="mask-frame-number"
            min={0}
            max={lastFrame}
            value={frame}
            onChange={(x) => x !== '' && Number.isFinite(Number(x)) && gotoFrame(Number(x))}
          />
        </label>
        <span className="rs-muted" data-testid="mask-timecode" style={{ marginRight: 8 }}>
          {timecode(frame, fps)} / {timecode(lastFrame, fps)}
        </span>
        {matte ? null : (
          <>
            <Button
              action
              testId="mask-set-key"
              disabled={targets.length === 0 || keyed}
              title={selected ? 'Keyframe the selected shape here' : 'Keyframe every shape here'}
              onClick={() => applyToTargets((s) => addKeyframe(s, frame))}
            >
              ◆ Set keyframe
            </Button>
            <Button action testId="mask-remove-key" disabled={!removable} onClick={() => applyToTargets((s) => removeKeyframe(s, frame))}>
              Remove keyframe
            </Button>
          </>
        )}
      </div>

      {matte ? (
        <div className="rs-box" data-testid="mask-matte">
          <div className="rs-row">
            <span style={{ marginRight: 6 }}>Matte:</span>
            <span data-testid="mask-matte-name" className={draft.matte ? '' : 'rs-muted'}>
              {draft.matte ? draft.matte.label ?? draft.matte.path : 'none picked yet'}
            </span>
          </div>
          {draft.matte && draft.matte.label ? <div className="rs-muted rs-small">{draft.matte.path}</div> : null}
          {onPickMatte ? (
            <Button action testId="mask-pick-matte" disabled={picking} onClick={() => void pickMatte()}>
              {picking ? 'Picking…' : draft.matte ? 'Pick again from the track above' : 'Pick the clip on the track above'}
            </Button>
          ) : (
            <label className="rs-block">
              Matte file{' '}
              <TextField
                testId="mask-matte-path"
                value={draft.matte?.path ?? ''}
                onChange={(x) => onChange({ ...value, matte: { channel: 'luma', ...value.matte, path: x } })}
              />
            </label>
          )}
          <div className="rs-row">
            <label>
              channel{' '}
              <Select
                testId="mask-matte-channel"
                value={draft.matte?.channel ?? 'luma'}
                disabled={!draft.matte}
                options={[
                  { value: 'luma', label: 'luma (white = generate)' },
                  { value: 'alpha', label: 'alpha (opaque = generate)' },
                ]}
                onChange={(c) => value.matte && onChange({ ...value, matte: { ...value.matte, channel: c } })}
              />
            </label>
          </div>
          {pickError ? <div className="rs-error rs-small" data-testid="mask-pick-error">{pickError}</div> : null}
        </div>
      ) : (
        <>
          <div className="rs-row" data-testid="mask-shapes">
            {shapes.length === 0 ? <span className="rs-muted rs-small">Draw a shape on the frame: the area to generate.</span> : null}
            {shapes.map((s, i) => (
              <Button
                action
                key={s.id}
                testId="mask-shape"
                data={{ 'shape-id': s.id, selected: s.id === selectedId ? 'true' : 'false' }}
                className={s.id === selectedId ? 'rs-on' : undefined}
                selected={s.id === selectedId}
                title={`${s.kind}, ${s.mode}, keyframes at ${s.keyframes.map((k) => k.frame).join(', ')}`}
                onClick={() => setSelectedId(s.id === selectedId ? null : s.id)}
                style={{ color: s.mode === 'add' ? undefined : SUB_COLOR }}
              >
                {KIND_ICON[s.kind]} {i + 1}
                {hasKeyframe(s, frame) ? ' ◆' : ''}
              </Button>
            ))}
            <span style={{ marginLeft: 'auto' }}>
              <Checkbox testId="mask-invert" checked={draft.invert} onChange={(x) => onChange({ ...value, invert: x })}>
                invert
              </Checkbox>
            </span>
          </div>
          {selected ? (
            <div className="rs-row rs-box" data-testid="mask-shape-props">
              <label>
                mode{' '}
                <Select<ShapeMode>
                  testId="mask-mode"
                  value={selected.mode}
                  options={[
                    { value: 'add', label: 'add' },
                    { value: 'subtract', label: 'subtract' },
                  ]}
                  onChange={(m) => onChange(updateShape(value, selected.id, (s) => ({ ...s, mode: m })))}
                />
              </label>
              <label>
                feather{' '}
                <TextField
                  type="number"
                  className="rs-num"
                  testId="mask-feather"
                  min={0}
                  max={1000}
                  value={selected.feather}
                  onChange={(x) => {
                    const f = Number(x);
                    if (x === '' || !Number.isFinite(f)) return;
                    onChange(updateShape(value, selected.id, (s) => ({ ...s, feather: Math.min(1000, Math.max(0, f)) })));
                  }}
                />{' '}
                px
              </label>
              <span className="rs-muted rs-small" data-testid="mask-shape-keys" style={{ marginRight: 8 }}>
                keys {selected.keyframes.map((k) => k.frame).join(', ')}
              </span>
              <Button
                action
                testId="mask-delete"
                onClick={() => {
                  onChange(removeShape(value, selected.id));
                  setSelectedId(null);
                }}
              >
                Delete
              </Button>
            </div>
          ) : null}
          <div className="rs-muted rs-small">
            {tool === 'polygon'
              ? poly
                ? `${poly.length} point${poly.length === 1 ? '' : 's'}: click the first point or press Enter to close, Escape to cancel.`
                : 'Click to place polygon points.'
              : 'Editing a shape at a frame without a keyframe adds one there (dashed outline: not keyed here). Alt-drag or Alt+arrows move it at every keyframe.'}
          </div>
        </>
      )}
    </div>
  );
}
