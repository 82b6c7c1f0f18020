/** The experiment cannot run as configured: a bad option, a model that does not fit the data, an unwritable folder. */
export class ExperimentError extends Error {
  override readonly name = 'ExperimentError';
}
