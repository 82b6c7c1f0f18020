export { DatasetError, isFileSystemError, messageOf, type DataLocation } from './errors.js';
export { isInside } from './inside.js';
export { createImage, toUint8Image, type FloatImage, type RasterImage } from './image.js';
export { declaredSize, decodeImage, detectFormat, describeUnknownFormat, type DecodeOptions, type DecodedImage, type ImageFormat } from './decode.js';
export { checkPixelLimit, DEFAULT_MAX_PIXELS, ImageTooLargeError, pixelLimit } from './limits.js';
export { decodeDicom, type DicomImage } from './dicom.js';
export { colourFraction, hasColour, DEFAULT_COLOUR_THRESHOLD, DEFAULT_COLOUR_TOLERANCE, type ColourRule } from './colour.js';
export { centreSquareCrop, crop, replicateGray, resize, studyPreprocess, toGray, type StudyPreprocessOptions } from './preprocess.js';
export {
  CAFFENET_MEAN_BGR,
  caffenetRecipe,
  makeRecipe,
  meanImage,
  mobilenetRecipe,
  netInputSize,
  toNetBatch,
  toNetInput,
  validateRecipe,
  type CaffenetOptions,
  type InputRecipe,
  type MeanImage,
  type MeanValues,
  type RecipePreset,
} from './recipe.js';
export { parseCsv, type CsvRecord } from './csv.js';
export {
  CSV_COLUMN_ALIASES,
  loadDataset,
  parseSplit,
  scanFolder,
  studyLabelConflicts,
  type Dataset,
  type DatasetItem,
  type LoadOptions,
  type Problem,
  type Split,
} from './dataset.js';
export {
  DEFAULT_FRACTIONS,
  SPLITS,
  splitByStudy,
  splitTable,
  splitTableMarkdown,
  type SplitFractions,
  type SplitInput,
  type SplitOptions,
  type SplitResult,
  type SplitRow,
  type SplitTable,
} from './split.js';
export { IN_TURN, ImageWorkerError, ImageWorkers, MIN_IMAGES_FOR_WORKERS, type ImageRequest } from './image-workers.js';
export { prepareImages, screenFiles, type PrepareOptions, type PreparedImages } from './screen.js';
export { screenImage, type ScreenOptions, type ScreenedImage, type StoredImage } from './screen-image.js';
export { dataReportMarkdown, dataSummaryLines, summariseData, type DataReport, type DataSummary } from './report.js';
