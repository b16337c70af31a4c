/** The media layer: ffmpeg discovery, probing, frame-exact decoding, atomic encoding. */
export { type Frame, frameBytes, makeFrame } from './frame.ts';
export { ffmpegInfo, type FfmpegInfo, type ToolInfo } from './ffmpeg.ts';
export { probe, normalizeMediaPath, type MediaInfo } from './probe.ts';
export { decodeFrames, readImage, sourceFrameAt, type DecodeOptions } from './decode.ts';
export { openEncoder, writePng, FORMAT_EXTENSION, type Encoder, type EncoderOptions, type EncodeFormat } from './encode.ts';
export { contactSheet, resizeBox } from './contact-sheet.ts';
export { syntheticFrame, syntheticFrameIndex, writeSyntheticClip, type SyntheticClipOptions } from './synthetic.ts';
