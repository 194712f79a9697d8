/**
 * The shopper page's languages: Korean, Chinese (simplified) and English, one message catalogue each.
 *
 * The language is chosen once per request: an explicit `?lang=ko|zh|en` (the page's switcher links) wins, then the
 * first language of `Accept-Language` in q-value order that the page speaks (any `zh-*` reads the simplified
 * catalogue: closer to a Taiwanese or Hong Kong reader than English is), then English.
 *
 * Country names are not in the catalogue: `Intl.DisplayNames` (Node's full ICU) names every ISO 3166 code in each
 * language, so an importer from a new country needs no translation work.
 *
 * `client` holds the strings the browser's verification script sets on badges and the summary; the page embeds
 * them as JSON, so the script itself carries no language.
 */

export const LANGS = ["ko", "zh", "en"] as const;
export type Lang = (typeof LANGS)[number];

/** BCP 47 tag written into `<html lang>` and `Content-Language`; zh-Hans so CJK fonts pick simplified glyphs. */
export const HTML_LANG: Readonly<Record<Lang, string>> = { ko: "ko", zh: "zh-Hans", en: "en" };

/** Time zone a timestamp is shown in: the markets this page serves; UTC (named) for English. */
export const TIME_ZONE: Readonly<Record<Lang, string>> = { ko: "Asia/Seoul", zh: "Asia/Shanghai", en: "UTC" };

/** What the browser script shows; all plain text (the script sets textContent, never HTML). */
export interface ClientMessages {
  readonly checking: string;
  readonly verified: string;
  readonly pending: string;
  readonly failed: string;
  readonly error: string;
  readonly summaryVerified: string;
  readonly summaryPending: string;
  readonly summaryFailed: string;
  readonly summaryError: string;
  readonly summaryDetailVerified: string;
  readonly summaryDetailPending: string;
  readonly summaryDetailFailed: string;
  readonly summaryDetailError: string;
  /** The server's page said something its signed records do not: the page now shows the records. */
  readonly summaryDetailMismatch: string;
  /** On a fact whose server-rendered text differed from its record. */
  readonly rewritten: string;
  /** The trust root the phone checked against, for anyone who wants to compare it with the authority's. */
  readonly checkedAgainst: (chainId: string, ledger: string, anchor: string, via: string) => string;
}

export interface Messages {
  readonly languageName: string;
  readonly title: string;
  readonly switchLanguage: string;
  readonly product: string;
  readonly lot: string;
  readonly quantity: string;
  readonly origin: string;
  readonly country: string;
  readonly region: string;
  readonly farm: string;
  readonly harvestDate: string;
  readonly imported: string;
  readonly registeredBy: string;
  readonly signedBy: string;
  readonly pesticides: string;
  readonly noPesticides: string;
  readonly substance: string;
  readonly dose: string;
  readonly appliedOn: string;
  readonly phi: string;
  readonly phiDays: (days: number) => string;
  readonly phiRespected: (gap: number, phi: number) => string;
  readonly phiViolated: (gap: number, phi: number) => string;
  readonly phiUnknown: string;
  readonly labResults: string;
  readonly lab: string;
  readonly method: string;
  readonly sample: string;
  readonly testedOn: string;
  readonly analyte: string;
  readonly measured: string;
  readonly limit: string;
  readonly result: string;
  readonly pass: string;
  readonly fail: string;
  readonly overallPass: string;
  readonly overallFail: string;
  readonly customs: string;
  readonly customsPending: string;
  readonly declaration: string;
  readonly hsCode: string;
  readonly originCountry: string;
  readonly portOfEntry: string;
  readonly clearedOn: string;
  readonly custody: string;
  readonly holder: string;
  readonly since: string;
  readonly currentHolder: string;
  readonly offeredTo: (name: string) => string;
  readonly parents: string;
  readonly children: string;
  readonly parentRecordsNote: string;
  /** A lot logged but not yet on chain (its Split, Merge or registration is on its way). */
  readonly pendingLotTitle: string;
  readonly pendingLotBody: string;
  /** On a label sheet of such a lot, on screen only. */
  readonly labelPending: string;
  readonly coldChain: string;
  readonly location: string;
  readonly readingAt: string;
  readonly temperature: string;
  readonly recallTitle: string;
  readonly recallAdvice: string;
  readonly recallReason: string;
  readonly recalledOn: string;
  readonly recallReference: string;
  readonly recallInherited: (lot: string) => string;
  readonly recalledBy: string;
  readonly verification: string;
  readonly verifyExplain: string;
  readonly noscript: string;
  readonly unknownActor: string;
  readonly notFoundTitle: string;
  readonly notFoundBody: string;
  readonly notFoundNoLot: string;
  readonly badLinkTitle: string;
  readonly badLinkBody: string;
  readonly details: string;
  readonly scannedCode: string;
  /** Heads the GS1 parser's own message, which is English (it names AIs and formats of the GS1 standard). */
  readonly technicalDetail: string;
  readonly client: ClientMessages;
}

const en: Messages = {
  languageName: "English",
  title: "Where this food comes from",
  switchLanguage: "Language",
  product: "Product",
  lot: "Lot",
  quantity: "Quantity",
  origin: "Origin",
  country: "Country",
  region: "Region",
  farm: "Farm",
  harvestDate: "Harvested",
  imported: "Imported",
  registeredBy: "Registered by",
  signedBy: "Signed by",
  pesticides: "Pesticide applications",
  noPesticides: "No pesticide application is recorded for this lot.",
  substance: "Substance",
  dose: "Dose",
  appliedOn: "Applied",
  phi: "Pre-harvest interval",
  phiDays: (d) => `${d} days`,
  phiRespected: (gap, phi) => `Respected: applied ${gap} days before harvest (at least ${phi} required)`,
  phiViolated: (gap, phi) => `NOT respected: applied ${gap} days before harvest (at least ${phi} required)`,
  phiUnknown: "Cannot be checked: the harvest date is not known",
  labResults: "Lab results",
  lab: "Laboratory",
  method: "Method",
  sample: "Sample",
  testedOn: "Tested",
  analyte: "Substance",
  measured: "Measured",
  limit: "Limit (MRL)",
  result: "Result",
  pass: "Pass",
  fail: "Fail",
  overallPass: "All results within limits",
  overallFail: "Failed: a result is over its limit",
  customs: "Customs clearance",
  customsPending: "Imported, not yet cleared by customs",
  declaration: "Declaration no.",
  hsCode: "HS code",
  originCountry: "Country of origin",
  portOfEntry: "Port of entry",
  clearedOn: "Cleared",
  custody: "Who held it",
  holder: "Holder",
  since: "From",
  currentHolder: "holds it now",
  offeredTo: (name) => `Offered to ${name}, not yet accepted`,
  parents: "Made from lots",
  children: "Split into lots",
  parentRecordsNote: "The original lot's spraying and lab records are shown above; its page has its whole story.",
  pendingLotTitle: "Recorded, confirming on chain",
  pendingLotBody:
    "This lot's records are signed and in the ledger's log; the blockchain has not confirmed the lot itself yet (usually within a minute). Look again in a moment.",
  labelPending:
    "This lot is recorded but not yet confirmed on the blockchain: its code already opens the lot's page, marked as confirming. Should the chain refuse the lot, the code will find nothing.",
  coldChain: "Cold-chain readings",
  location: "Location",
  readingAt: "Time",
  temperature: "Temperature",
  recallTitle: "RECALLED",
  recallAdvice: "Do not eat. Return it to the seller.",
  recallReason: "Reason",
  recalledOn: "Recalled",
  recallReference: "Notice",
  recallInherited: (lot) => `Recalled through the lot it was made from: ${lot}`,
  recalledBy: "By",
  verification: "Verification",
  verifyExplain:
    "Each badge is computed on your phone: it checks the signature of whoever stated the fact and the record on the blockchain, without trusting this website.",
  noscript: "Turn on JavaScript to check these facts against the blockchain yourself. Without it, nothing below is verified.",
  unknownActor: "Unnamed party",
  notFoundTitle: "We could not find this batch",
  notFoundBody:
    "The code is readable, but no producer has registered this batch in the ledger. Ask the seller, or scan again later.",
  notFoundNoLot: "This code names a product but not a batch (lot), so there is no history to show.",
  badLinkTitle: "This code is not a valid GS1 Digital Link",
  badLinkBody: "The label may be misprinted or damaged. Ask the seller for the batch details.",
  details: "Details",
  scannedCode: "Scanned code",
  technicalDetail: "Technical detail",
  client: {
    checking: "checking…",
    verified: "verified",
    pending: "pending anchor",
    failed: "not verified",
    error: "could not verify",
    summaryVerified: "Verified on chain",
    summaryPending: "Recorded, waiting for the chain anchor",
    summaryFailed: "Not verified",
    summaryError: "Could not verify",
    summaryDetailVerified: "Every fact below matches its signed record on the blockchain.",
    summaryDetailPending: "The facts are signed and logged; their proof reaches the blockchain within minutes.",
    summaryDetailFailed: "Some facts below do not match the blockchain. Do not rely on them.",
    summaryDetailError: "Your phone could not reach the blockchain to check. Nothing below is verified.",
    summaryDetailMismatch:
      "This website first showed facts that differ from their signed records. Below are the signed records; do not trust this website.",
    rewritten: "corrected from the signed record",
    checkedAgainst: (chainId, ledger, anchor, via) => `Checked on chain ${chainId} against ledger ${ledger} and log anchor ${anchor}, read through ${via}.`,
  },
};

const ko: Messages = {
  languageName: "한국어",
  title: "이 식품의 이력",
  switchLanguage: "언어",
  product: "품목",
  lot: "로트",
  quantity: "수량",
  origin: "원산지",
  country: "국가",
  region: "지역",
  farm: "농장",
  harvestDate: "수확일",
  imported: "수입품",
  registeredBy: "등록",
  signedBy: "서명",
  pesticides: "농약 살포 기록",
  noPesticides: "이 로트에 기록된 농약 살포가 없습니다.",
  substance: "약제",
  dose: "사용량",
  appliedOn: "살포일",
  phi: "수확 전 안전사용기간",
  phiDays: (d) => `${d}일`,
  phiRespected: (gap, phi) => `준수: 수확 ${gap}일 전 살포 (최소 ${phi}일)`,
  phiViolated: (gap, phi) => `위반: 수확 ${gap}일 전 살포 (최소 ${phi}일 필요)`,
  phiUnknown: "수확일을 알 수 없어 확인할 수 없습니다",
  labResults: "검사 결과",
  lab: "검사기관",
  method: "검사 방법",
  sample: "시료",
  testedOn: "검사일",
  analyte: "검사 항목",
  measured: "검출량",
  limit: "잔류허용기준(MRL)",
  result: "판정",
  pass: "적합",
  fail: "부적합",
  overallPass: "모든 항목 기준 이내",
  overallFail: "부적합: 기준을 초과한 항목이 있습니다",
  customs: "통관",
  customsPending: "수입품, 아직 통관되지 않음",
  declaration: "신고번호",
  hsCode: "HS 코드",
  originCountry: "원산지",
  portOfEntry: "입항지",
  clearedOn: "통관일",
  custody: "유통 이력",
  holder: "보관자",
  since: "인수일",
  currentHolder: "현재 보관 중",
  offeredTo: (name) => `${name}에게 인계 요청됨, 아직 인수 전`,
  parents: "원료 로트",
  children: "분할된 로트",
  parentRecordsNote: "원래 로트의 농약·검사 기록은 위에 표시되어 있으며, 전체 이력은 해당 로트 페이지에 있습니다.",
  pendingLotTitle: "기록됨, 블록체인 확인 중",
  pendingLotBody: "이 로트의 기록은 서명되어 원장에 기록되었지만, 블록체인이 아직 이 로트를 확인하지 않았습니다(보통 1분 이내). 잠시 후 다시 확인해 주세요.",
  labelPending:
    "이 로트는 기록되었지만 아직 블록체인에서 확인되지 않았습니다. 코드는 이미 로트 페이지(확인 중 표시)를 엽니다. 블록체인이 로트를 거부하면 코드로 찾을 수 없게 됩니다.",
  coldChain: "콜드체인 온도 기록",
  location: "장소",
  readingAt: "시각",
  temperature: "온도",
  recallTitle: "회수 대상",
  recallAdvice: "섭취하지 마시고 판매처에 반품하세요.",
  recallReason: "사유",
  recalledOn: "회수일",
  recallReference: "공고번호",
  recallInherited: (lot) => `원료 로트 ${lot}의 회수로 함께 회수됨`,
  recalledBy: "회수 기관",
  verification: "검증",
  verifyExplain:
    "각 표시는 휴대폰에서 직접 계산됩니다. 이 웹사이트를 믿지 않고, 기록한 당사자의 서명과 블록체인 기록을 확인합니다.",
  noscript: "블록체인 검증을 하려면 JavaScript를 켜 주세요. 켜지 않으면 아래 내용은 검증되지 않은 상태입니다.",
  unknownActor: "이름 없는 당사자",
  notFoundTitle: "이 로트를 찾을 수 없습니다",
  notFoundBody: "코드는 올바르지만, 이 로트를 원장에 등록한 생산자가 없습니다. 판매자에게 문의하거나 나중에 다시 스캔해 주세요.",
  notFoundNoLot: "이 코드는 상품만 나타내고 로트(배치)는 없어서 보여줄 이력이 없습니다.",
  badLinkTitle: "올바른 GS1 디지털 링크가 아닙니다",
  badLinkBody: "라벨이 잘못 인쇄되었거나 손상되었을 수 있습니다. 판매자에게 로트 정보를 문의하세요.",
  details: "자세히",
  scannedCode: "스캔한 코드",
  technicalDetail: "기술 정보 (영어)",
  client: {
    checking: "확인 중…",
    verified: "검증됨",
    pending: "블록체인 등록 대기",
    failed: "검증 안 됨",
    error: "검증할 수 없음",
    summaryVerified: "블록체인 검증 완료",
    summaryPending: "기록됨, 블록체인 등록 대기 중",
    summaryFailed: "검증 실패",
    summaryError: "검증할 수 없음",
    summaryDetailVerified: "아래 모든 내용이 블록체인의 서명된 기록과 일치합니다.",
    summaryDetailPending: "서명·기록은 완료되었고, 몇 분 안에 블록체인에 등록됩니다.",
    summaryDetailFailed: "아래 일부 내용이 블록체인 기록과 다릅니다. 믿지 마세요.",
    summaryDetailError: "휴대폰이 블록체인에 연결하지 못했습니다. 아래 내용은 검증되지 않았습니다.",
    summaryDetailMismatch: "이 웹사이트가 처음 보여 준 내용이 서명된 기록과 달랐습니다. 아래는 서명된 기록입니다. 이 웹사이트를 믿지 마세요.",
    rewritten: "서명된 기록으로 정정됨",
    checkedAgainst: (chainId, ledger, anchor, via) => `체인 ${chainId}의 원장 ${ledger}, 로그 앵커 ${anchor}와 대조했습니다 (${via}를 통해 조회).`,
  },
};

const zh: Messages = {
  languageName: "中文",
  title: "食品溯源信息",
  switchLanguage: "语言",
  product: "产品",
  lot: "批次",
  quantity: "数量",
  origin: "产地",
  country: "国家",
  region: "地区",
  farm: "农场",
  harvestDate: "采收日期",
  imported: "进口",
  registeredBy: "登记方",
  signedBy: "签名方",
  pesticides: "农药使用记录",
  noPesticides: "本批次没有农药使用记录。",
  substance: "药剂",
  dose: "用量",
  appliedOn: "施药日期",
  phi: "安全间隔期",
  phiDays: (d) => `${d}天`,
  phiRespected: (gap, phi) => `符合：采收前${gap}天施药（至少${phi}天）`,
  phiViolated: (gap, phi) => `不符合：采收前${gap}天施药（至少需${phi}天）`,
  phiUnknown: "采收日期不详，无法核对",
  labResults: "检测结果",
  lab: "检测机构",
  method: "检测方法",
  sample: "样品",
  testedOn: "检测日期",
  analyte: "检测项目",
  measured: "检出值",
  limit: "最大残留限量(MRL)",
  result: "判定",
  pass: "合格",
  fail: "不合格",
  overallPass: "全部项目均在限量以内",
  overallFail: "不合格：有项目超出限量",
  customs: "海关清关",
  customsPending: "进口产品，尚未清关",
  declaration: "报关单号",
  hsCode: "HS编码",
  originCountry: "原产国",
  portOfEntry: "入境口岸",
  clearedOn: "清关日期",
  custody: "流通记录",
  holder: "持有方",
  since: "接收时间",
  currentHolder: "当前持有",
  offeredTo: (name) => `已交付给${name}，尚未确认接收`,
  parents: "来源批次",
  children: "分装批次",
  parentRecordsNote: "原批次的施药和检测记录已显示在上方，其完整记录请见该批次页面。",
  pendingLotTitle: "已记录，正在上链确认",
  pendingLotBody: "该批次的记录已签名并写入账本日志，但区块链尚未确认该批次本身（通常在一分钟内）。请稍后再看。",
  labelPending: "该批次已记录，但尚未在区块链上确认：二维码已可打开批次页面（标为确认中）。如区块链拒绝该批次，二维码将查不到任何内容。",
  coldChain: "冷链温度记录",
  location: "地点",
  readingAt: "时间",
  temperature: "温度",
  recallTitle: "已召回",
  recallAdvice: "请勿食用，请退还给销售者。",
  recallReason: "原因",
  recalledOn: "召回日期",
  recallReference: "公告编号",
  recallInherited: (lot) => `因来源批次 ${lot} 被召回而一并召回`,
  recalledBy: "召回机构",
  verification: "验证",
  verifyExplain: "每个标记都由您的手机自行计算：核对记录方的签名和区块链上的记录，而不依赖本网站。",
  noscript: "请开启 JavaScript 以便自行在区块链上核对。未开启时，以下内容均未经验证。",
  unknownActor: "未具名方",
  notFoundTitle: "未找到该批次",
  notFoundBody: "二维码可以识别，但尚无生产者在账本中登记该批次。请询问销售者，或稍后再扫。",
  notFoundNoLot: "该二维码只标识产品，没有批次号，因此没有溯源记录。",
  badLinkTitle: "这不是有效的GS1数字链接",
  badLinkBody: "标签可能印错或损坏。请向销售者询问批次信息。",
  details: "详情",
  scannedCode: "扫描的代码",
  technicalDetail: "技术信息（英文）",
  client: {
    checking: "核对中…",
    verified: "已验证",
    pending: "等待上链",
    failed: "未通过验证",
    error: "无法验证",
    summaryVerified: "已通过区块链验证",
    summaryPending: "已记录，等待上链",
    summaryFailed: "未通过验证",
    summaryError: "无法验证",
    summaryDetailVerified: "以下所有信息均与区块链上的签名记录一致。",
    summaryDetailPending: "信息已签名并记录，证明将在几分钟内写入区块链。",
    summaryDetailFailed: "以下部分信息与区块链记录不符，请勿采信。",
    summaryDetailError: "您的手机无法连接区块链进行核对。以下内容均未经验证。",
    summaryDetailMismatch: "本网站最初显示的信息与签名记录不符。以下为签名记录，请勿信任本网站。",
    rewritten: "已按签名记录更正",
    checkedAgainst: (chainId, ledger, anchor, via) => `已在链 ${chainId} 上对照账本合约 ${ledger} 和日志锚定合约 ${anchor} 核对（通过 ${via} 读取）。`,
  },
};

export const MESSAGES: Readonly<Record<Lang, Messages>> = { ko, zh, en };

export function isLang(x: unknown): x is Lang {
  return typeof x === "string" && (LANGS as readonly string[]).includes(x);
}

/**
 * The page language for a request: `?lang=` when it names one of ours, else the best `Accept-Language` match by
 * q-value (ties keep header order; q=0 means "not this one"), else English.
 */
export function chooseLang(acceptLanguage: string | undefined, explicit?: string): Lang {
  if (isLang(explicit)) return explicit;
  if (!acceptLanguage) return "en";
  const ranges = acceptLanguage
    .split(",")
    .map((part, order) => {
      const [tag = "", ...params] = part.trim().split(";");
      const qParam = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
      const q = qParam === undefined ? 1 : Number(qParam.slice(2));
      return { tag: tag.trim().toLowerCase(), q: Number.isFinite(q) ? q : 0, order };
    })
    .filter((r) => r.tag !== "" && r.q > 0)
    .sort((a, b) => b.q - a.q || a.order - b.order);
  for (const { tag } of ranges) {
    if (tag === "*") return "en";
    const primary = tag.split("-")[0];
    if (isLang(primary)) return primary;
  }
  return "en";
}

const regionNames = new Map<Lang, Intl.DisplayNames>();

/** A country's name in `lang` ("KR" -> "대한민국" / "韩国" / "South Korea"); the code itself if ICU does not know it. */
export function countryName(code: string, lang: Lang): string {
  let names = regionNames.get(lang);
  if (names === undefined) {
    names = new Intl.DisplayNames([HTML_LANG[lang]], { type: "region", fallback: "code" });
    regionNames.set(lang, names);
  }
  try {
    return names.of(code) ?? code;
  } catch {
    return code;
  }
}

/** A YYYY-MM-DD date in `lang`'s long form, read as a calendar date (no time-zone shift). */
export function formatDate(date: string, lang: Lang): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date.slice(0, 10));
  if (!m) return date;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return new Intl.DateTimeFormat(HTML_LANG[lang], { dateStyle: "medium", timeZone: "UTC" }).format(d);
}

const dateTimeFormats = new Map<Lang, Intl.DateTimeFormat>();

/** An RFC 3339 timestamp as date and time in the language's market time zone, zone named. */
export function formatDateTime(iso: string, lang: Lang): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  let format = dateTimeFormats.get(lang);
  if (format === undefined) {
    // dateStyle/timeStyle cannot be combined with timeZoneName, so the fields are spelled out.
    format = new Intl.DateTimeFormat(HTML_LANG[lang], {
      year: "numeric",
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
      timeZone: TIME_ZONE[lang],
      timeZoneName: "short",
    });
    dateTimeFormats.set(lang, format);
  }
  return format.format(d);
}

/** A measurement unit as people read it: UN/ECE "Cel" is °C. */
export function unitLabel(unit: string): string {
  return unit === "Cel" ? "°C" : unit === "FAH" ? "°F" : unit;
}
