/** Library field errors as a CLI user reads them: the field told as the flag that feeds it. */
import { FieldError } from '../../toolkit/errors.js';

/** The FieldError `work` throws (or rejects with), asserted to be about `field`, with its message naming `flag`. */
export async function flagMessageOf(work: () => unknown, options: { field: string; flag: string }): Promise<string> {
  try {
    await work();
  } catch (error) {
    if (!(error instanceof FieldError)) throw error;
    if (error.field !== options.field) throw new Error(`a FieldError about ${error.field}, not ${options.field}`);
    return error.messageNaming(options.flag);
  }
  throw new Error('no error thrown');
}
