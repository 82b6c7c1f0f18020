import type { EngineEvent, EngineInfo, EngineSettings, Reply, Request } from './messages.js';

/*
 * The page's side of the engine worker: requests become promises, events go to a listener,
 * and the settings (backend, threads) live in the page's address so a change is a reload.
 */

export class Engine {
  private readonly worker = new Worker('/app/engine.js', { type: 'module' });
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  private nextId = 1;

  constructor(onEvent: (event: EngineEvent) => void) {
    this.worker.onmessage = ({ data }: MessageEvent<Reply | EngineEvent>) => {
      if (!('id' in data)) return onEvent(data);
      const waiting = this.pending.get(data.id);
      this.pending.delete(data.id);
      if (data.ok) waiting?.resolve(data.result);
      else waiting?.reject(Object.assign(new Error(data.error.message), { name: data.error.name }));
    };
    this.worker.onerror = (event) => {
      event.preventDefault();
      for (const waiting of this.pending.values()) waiting.reject(new Error(`the engine worker failed: ${event.message}`));
      this.pending.clear();
    };
  }

  request<T>(request: Request, transfer: Transferable[] = []): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.postMessage({ id, request }, transfer);
    });
  }
}

/** The settings the address asks for: `?backend=js|wasm&threads=n` (default wasm, every core up to 4). */
function settingsFromAddress(): EngineSettings {
  const params = new URLSearchParams(location.search);
  const threads = Number(params.get('threads'));
  return {
    backend: params.get('backend') === 'js' ? 'js' : 'wasm',
    threads: Number.isInteger(threads) && threads >= 1 ? threads : Math.min(4, navigator.hardwareConcurrency || 1),
  };
}

/** The run's token, from the address `cnn serve` printed. */
export function token(): string {
  return new URLSearchParams(location.search).get('token') ?? '';
}

/**
 * Starts the engine with the address's settings, fills the header's backend and thread pickers
 * (a change reloads the page with the new settings) and shows what the library reports.
 */
export async function startEngine(onEvent: (event: EngineEvent) => void = () => undefined): Promise<{ engine: Engine; info: EngineInfo }> {
  const settings = settingsFromAddress();
  const backend = document.getElementById('backend') as HTMLSelectElement;
  const threads = document.getElementById('threads') as HTMLSelectElement;
  for (let n = 1; n <= Math.max(settings.threads, navigator.hardwareConcurrency || 1); n++) threads.add(new Option(String(n), String(n)));
  backend.value = settings.backend;
  threads.value = String(settings.threads);
  const reload = (): void => {
    const params = new URLSearchParams(location.search);
    params.set('backend', backend.value);
    params.set('threads', threads.value);
    location.search = params.toString();
  };
  backend.onchange = reload;
  threads.onchange = reload;
  // Moving between the pages keeps the token and the settings.
  for (const link of document.querySelectorAll<HTMLAnchorElement>('a[data-keep-query]')) link.search = location.search;
  const engine = new Engine(onEvent);
  const info = await engine.request<EngineInfo>({ type: 'configure', settings });
  const shown = document.querySelector('[data-testid=engine]')!;
  shown.textContent =
    `backend ${info.backend}${info.simd ? ' (SIMD)' : ''}, ${info.threads} thread${info.threads === 1 ? '' : 's'} of ${info.cores} cores, ` +
    `cross-origin isolated: ${info.crossOriginIsolated ? 'yes' : 'no'}`;
  document.body.dataset.isolated = String(info.crossOriginIsolated);
  return { engine, info };
}
