import { useApp, useInput, useStdin, useStdout } from 'ink';
import { useEffect, useRef, useState } from 'react';
import { buildTickerView, type TickerOptions, type TickerView } from '../../core/ticker/model.js';
import type { TickerSource } from '../../core/ticker/snapshot.js';
import { TickerScreen } from './components.js';

export interface TickerAppProps {
  readonly source: TickerSource;
  /** Pause between the end of one refresh and the start of the next (ms). */
  readonly intervalMs: number;
  readonly options?: Partial<TickerOptions>;
  readonly color: boolean;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * The one component with effects: polls the source, keeps the selection, handles keys.
 * Refreshes never overlap: the next one is scheduled when the previous finished, so a slow Redis
 * stretches the period instead of piling up requests. A failed refresh keeps the last view on
 * screen with the error and tries again at the next tick.
 */
export const TickerApp = ({ source, intervalMs, options, color }: TickerAppProps) => {
  const { exit } = useApp();
  const { isRawModeSupported } = useStdin();
  const [view, setView] = useState<TickerView | null>(null);
  const [error, setError] = useState<string | null>(null);
  // The selection follows the symbol, not the row, so it stays put when a new symbol is listed.
  const [selectedSymbol, setSelectedSymbol] = useState<string | null>(null);
  // The key handler reads the symbols through a ref: Ink shows a new frame on commit but re-binds
  // the handler only after React's passive effects, so a key pressed in between would otherwise
  // see the previous (possibly empty) list.
  const symbolsRef = useRef<readonly string[]>([]);

  useEffect(() => {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const tick = async () => {
      try {
        const raw = await source.snapshot();
        if (stopped) return;
        const next = buildTickerView(raw, options);
        symbolsRef.current = next.symbols.map((s) => s.symbol);
        setView(next);
        setError(null);
      } catch (e) {
        if (stopped) return;
        setError(message(e));
      }
      if (!stopped) timer = setTimeout(tick, intervalMs);
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [source, intervalMs, options]);

  const symbols = view?.symbols ?? [];
  const found = symbols.findIndex((s) => s.symbol === selectedSymbol);
  const selected = found >= 0 ? found : 0;

  const move = (step: number) =>
    setSelectedSymbol((prev) => {
      const list = symbolsRef.current;
      if (list.length === 0) return prev;
      const at = Math.max(0, list.indexOf(prev ?? ''));
      return list[Math.min(list.length - 1, Math.max(0, at + step))]!;
    });

  useInput(
    (input, key) => {
      if (input === 'q' || key.escape) exit();
      else if (key.upArrow) move(-1);
      else if (key.downArrow) move(1);
    },
    // Without a raw-mode terminal (stdin piped) keys cannot be read; Ink would throw.
    { isActive: isRawModeSupported },
  );

  // Fit the terminal's height too: a screen taller than the terminal scrolls its top away.
  const { stdout } = useStdout();
  return (
    <TickerScreen
      view={view}
      selected={selected}
      error={error}
      color={color}
      rows={stdout.rows ?? Number.POSITIVE_INFINITY}
    />
  );
};
