/**
 * What a kernel path's machine is: plain states, each with the events its step may return and
 * the state each leads to, and final states where the path has returned. The config is kept as
 * a const value so that src/paths/ can type each state's step by it: a step of a state that does
 * not exist, a missing step, or an event the state does not accept is a compile error
 * (src/paths/types.ts).
 */

export interface PathConfig {
  readonly id: string;
  readonly initial: string;
  readonly states: { readonly [state: string]: { readonly on?: { readonly [event: string]: string }; readonly type?: 'final' } };
}

/** The states that run a step: every state but the final ones. */
export type StepState<C extends PathConfig> = { [S in keyof C['states']]: C['states'][S] extends { readonly type: 'final' } ? never : S }[keyof C['states']] & string;

/** The events state `S` accepts: what its step may return. */
export type EventIn<C extends PathConfig, S extends keyof C['states']> = keyof NonNullable<C['states'][S]['on']> & string;

/** Every event of the path, as an xstate event object. */
export type PathEvent<C extends PathConfig> = { type: { [S in keyof C['states']]: EventIn<C, S> }[keyof C['states']] };

