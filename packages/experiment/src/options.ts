import { InvalidArgumentError } from 'commander';

/**
 * What a numeric option accepts: an integer or any finite number, within optional bounds.
 * One rule serves both the command line (a parser for commander) and the same setting read
 * from a config file (checkNumberSetting), so the two can never disagree.
 */
export interface NumberRule {
  integer: boolean;
  /** Smallest accepted value (inclusive). */
  min?: number;
  /** Largest accepted value (inclusive). */
  max?: number;
  /** The value must be above `min`, not equal to it (a learning rate of 0 trains nothing). */
  aboveMin?: boolean;
}

/** The rules the commands use. */
export const RULES = {
  /** Seeds: any integer (the generators take its low 32 bits). */
  integer: { integer: true },
  /** Counts that may be zero: augmentation copies, patience. */
  count: { integer: true, min: 0 },
  /** Sizes and iteration counts: at least 1. */
  positive: { integer: true, min: 1 },
  /** A TCP port; 0 lets the system pick a free one. */
  port: { integer: true, min: 0, max: 65535 },
  /** Any finite number (a scale factor may be negative). */
  number: { integer: false },
  /** Rates: a finite number above 0. */
  rate: { integer: false, min: 0, aboveMin: true },
} as const satisfies Record<string, NumberRule>;

/** `an integer >= 1`, `a number > 0`, `an integer from 0 to 65535`: the words of an error message. */
export function describeRule(rule: NumberRule): string {
  const kind = rule.integer ? 'an integer' : 'a number';
  if (rule.min !== undefined && rule.max !== undefined) return `${kind} from ${rule.min} to ${rule.max}`;
  if (rule.min !== undefined) return `${kind} ${rule.aboveMin ? '>' : '>='} ${rule.min}`;
  if (rule.max !== undefined) return `${kind} <= ${rule.max}`;
  return kind;
}

/** Whether `value` obeys `rule` (a number, finite, integral if asked, within the bounds). */
export function obeys(value: unknown, rule: NumberRule): value is number {
  if (typeof value !== 'number' || !Number.isFinite(value)) return false;
  if (rule.integer && !Number.isInteger(value)) return false;
  if (rule.min !== undefined && (rule.aboveMin ? value <= rule.min : value < rule.min)) return false;
  return rule.max === undefined || value <= rule.max;
}

/**
 * A commander argument parser for a numeric option. A value it refuses becomes commander's
 * `error: option '--seed <n>' argument 'abc' is invalid. expected an integer` on stderr, exit
 * code 1: the option's name, what was given and what it accepts.
 */
export function numberOption(rule: NumberRule): (text: string) => number {
  return (text) => {
    // Number('') is 0 and Number(' 0x10 ') is 16: accept only plain decimal notation.
    const value = /^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i.test(text) ? Number(text) : Number.NaN;
    if (!obeys(value, rule)) throw new InvalidArgumentError(`expected ${describeRule(rule)}`);
    return value;
  };
}

/** A commander argument parser for an option with a fixed set of values (compared case-insensitively). */
export function choiceOption<T extends string>(choices: readonly T[]): (text: string) => T {
  return (text) => {
    const found = choices.find((choice) => choice.toLowerCase() === text.trim().toLowerCase());
    if (found === undefined) throw new InvalidArgumentError(`expected one of ${choices.join(', ')}`);
    return found;
  };
}

/**
 * A commander argument parser for an option whose text is parsed later (a list such as
 * `--learning-curve 2,4,all`): `check` parses it now, so a bad value is refused before any work,
 * and its message (an Error's) is shown; the text itself is kept.
 */
export function checkedOption(check: (text: string) => unknown): (text: string) => string {
  return (text) => {
    try {
      check(text);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
    return text;
  };
}

/**
 * The message for a setting from a config file that breaks its rule, or undefined when it obeys.
 * @param name how the setting is written in the message (`maxIter (--max-iter)`)
 */
export function checkNumberSetting(name: string, value: unknown, rule: NumberRule): string | undefined {
  if (value === undefined || obeys(value, rule)) return undefined;
  return `${name} must be ${describeRule(rule)}, got ${JSON.stringify(value)}`;
}
