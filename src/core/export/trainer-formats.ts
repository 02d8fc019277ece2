/**
 * One conversation → one record in a trainer's documented dataset shape. The
 * image goes in as one `<image>` tag at the start of the first user turn and
 * one path in the record; paths are the curate record's `image`, prefixed with
 * --image-root when given.
 *
 *   swift         JSONL  {"messages": [{"role": "user", "content": "<image>Please segment the cat."},
 *                                      {"role": "assistant", "content": "<seg><grid_8_8></seg>"}],
 *                         "images": ["000000025560.jpg"]}
 *                 ms-swift docs, Customization/Custom-dataset.md ("Multimodal"; "loss": false on an
 *                 assistant message leaves it out of the loss)
 *   llamafactory  JSONL  {"conversations": [{"from": "human", "value": "<image>Please …"},
 *                                           {"from": "gpt", "value": "<seg>…</seg>"}],
 *                         "images": ["000000025560.jpg"]}
 *                 LLaMA-Factory data/README.md, sharegpt "Multimodal Image Dataset", with the
 *                 dataset_info.json entry it documents
 *   llava         JSON array  [{"id": "…", "image": "000000025560.jpg",
 *                               "conversations": [{"from": "human", "value": "<image>\nPlease …"},
 *                                                 {"from": "gpt", "value": "…"}]}]
 *                 LLaVA docs/Finetune_Custom_Data.md
 *   qwen          JSONL  {"image": "000000025560.jpg", "conversations": [{"from": "human", "value": "<image>\nPlease …"},
 *                                                                       {"from": "gpt", "value": "…"}]}
 *                 Qwen2.5-VL / Qwen3-VL qwen-vl-finetune/README.md (JSON or JSONL by extension)
 */
import type {Conversation} from './conversations.js'

export const EXPORT_FORMATS = ['swift', 'llamafactory', 'llava', 'qwen'] as const
export type ExportFormat = (typeof EXPORT_FORMATS)[number]

export interface SwiftRecord {
  messages: {role: 'user' | 'assistant'; content: string; loss?: false}[]
  images: string[]
}
export interface ShareGptTurn {
  from: 'human' | 'gpt'
  value: string
}
export interface LlamaFactoryRecord {
  conversations: ShareGptTurn[]
  images: string[]
}
export interface LlavaRecord {
  id: string
  image: string
  conversations: ShareGptTurn[]
}
export interface QwenRecord {
  image: string
  conversations: ShareGptTurn[]
}
export type TrainerRecord = SwiftRecord | LlamaFactoryRecord | LlavaRecord | QwenRecord

/** The data file of one split: a JSON array for LLaVA (its loader calls json.load), JSONL for the rest. */
export function dataFileName(format: ExportFormat, split: string): string {
  return `${format}-${split}.${format === 'llava' ? 'json' : 'jsonl'}`
}

/** Where each trainer wants the image tag: "<image>text" (ms-swift, LLaMA-Factory examples) or "<image>\ntext" (LLaVA, Qwen). */
function withImage(format: ExportFormat, text: string): string {
  return format === 'swift' || format === 'llamafactory' ? `<image>${text}` : `<image>\n${text}`
}

function shareGpt(format: ExportFormat, c: Conversation): ShareGptTurn[] {
  return c.turns.flatMap((t, k): ShareGptTurn[] => [
    {from: 'human', value: k === 0 ? withImage(format, t.user) : t.user},
    {from: 'gpt', value: t.assistant},
  ])
}

/** `extra`: fields added after the trainer's own (getok's ids in predict data, core/export/predict.ts). */
export function toTrainerRecord(format: ExportFormat, c: Conversation, imagePath: string, extra?: Record<string, unknown>): TrainerRecord {
  const record = trainerShape(format, c, imagePath)
  return extra ? {...record, ...extra} : record
}

function trainerShape(format: ExportFormat, c: Conversation, imagePath: string): TrainerRecord {
  switch (format) {
    case 'swift':
      return {
        messages: c.turns.flatMap((t, k): SwiftRecord['messages'] => [
          {role: 'user', content: k === 0 ? withImage(format, t.user) : t.user},
          t.train ? {role: 'assistant', content: t.assistant} : {role: 'assistant', content: t.assistant, loss: false},
        ]),
        images: [imagePath],
      }
    case 'llamafactory':
      return {conversations: shareGpt(format, c), images: [imagePath]}
    case 'llava':
      return {id: c.id, image: imagePath, conversations: shareGpt(format, c)}
    case 'qwen':
      return {image: imagePath, conversations: shareGpt(format, c)}
  }
}

/** Every text a trainer tokenizes in a record (for the vocabulary check). */
export function recordTexts(record: TrainerRecord): string[] {
  if ('messages' in record) return record.messages.map((m) => m.content)
  return record.conversations.map((t) => t.value)
}

/** Number of `<image>` tags in a record; each trainer wants exactly one per image. */
export function imageTagCount(record: TrainerRecord): number {
  return recordTexts(record).reduce((s, t) => s + (t.match(/<image>/g)?.length ?? 0), 0)
}

/** LLaMA-Factory's dataset_info.json: one sharegpt entry per split file (data/README.md). */
export function llamaFactoryDatasetInfo(name: string, files: readonly {split: string; file: string}[]): Record<string, unknown> {
  return Object.fromEntries(
    files.map((f) => [
      `${name}_${f.split}`,
      {file_name: f.file, formatting: 'sharegpt', columns: {messages: 'conversations', images: 'images'}},
    ]),
  )
}

export interface HintContext {
  out: string
  files: readonly {split: string; file: string}[]
  /** the --image-root given, or null (paths relative to curate's --images) */
  imageRoot: string | null
}

/**
 * What to tell the trainer, per format: where the data and vocabulary files
 * go, how image paths resolve, and which layers must train for new tokens.
 * Flag names as in each trainer's documentation (docs/export.md cites them).
 */
export function trainerHints(format: ExportFormat, h: HintContext): string[] {
  const at = (file: string) => `${h.out.replace(/\/+$/, '')}/${file}`
  const train = h.files.find((f) => f.split === 'train') ?? h.files[0]
  const others = h.files.filter((f) => f !== train)
  const root = h.imageRoot === null ? 'the folder given to getok curate as --images' : null
  const trainFile = train ? at(train.file) : '<data file>'
  const vocabTxt = at('vocab.txt')
  switch (format) {
    case 'swift': {
      const valDataset = others.length ? ` --val_dataset ${others.map((f) => at(f.file)).join(' ')}` : ''
      return [
        `swift sft --dataset ${trainFile}${valDataset} --new_special_tokens ${vocabTxt}`,
        root ? `image paths are relative: run from ${root}, or set ROOT_IMAGE_DIR to it` : 'image paths carry --image-root',
        'with LoRA (--tuner_type lora; --train_type lora in ms-swift 3.x) add --modules_to_save embed_tokens ' +
          'lm_head so the new token rows are trained and saved',
      ]
    }
    case 'llamafactory': {
      const dataset = train ? `getok_${train.split}` : '<name>'
      const evalDataset = others.length ? `  eval_dataset: ${others.map((f) => `getok_${f.split}`).join(',')}` : ''
      return [
        `dataset_dir: ${h.out}  dataset: ${dataset}${evalDataset}  (entries in dataset_info.json)`,
        `new_special_tokens_config: ${at('vocab.yaml')}  (init_special_tokens: desc_init to start each token from its description)`,
        root ? `media_dir: ${root} (image paths are relative; media_dir defaults to dataset_dir)` : 'image paths carry --image-root',
        'resize_vocab: true (set automatically when tokens are added); with LoRA the resized embedding and ' +
          'lm_head become trainable (additional_target)',
        'refinement records with two turns: mask_history: true trains only the last turn',
      ]
    }
    case 'llava':
      return [
        `--data_path ${trainFile} --image_folder ${root ?? '""'}`,
        `LLaVA has no flag for new tokens: add the lines of ${vocabTxt} with tokenizer.add_tokens(…, special_tokens=True) and ` +
          'model.resize_token_embeddings(len(tokenizer)) in train.py; with --lora_enable the embedding and lm_head are not ' +
          'trained unless made trainable',
      ]
    case 'qwen':
      return [
        `qwenvl/data/__init__.py: {"annotation_path": "${trainFile}", "data_path": "${root ?? ''}"}`,
        `Qwen's fine-tuning code has no flag for new tokens: add the lines of ${vocabTxt} with ` +
          'processor.tokenizer.add_special_tokens({"additional_special_tokens": [...]}) and ' +
          'model.resize_token_embeddings(len(processor.tokenizer)); train with --tune_mm_llm True (its LoRA targets attention only)',
      ]
  }
}
