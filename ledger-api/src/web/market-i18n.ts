/**
 * The stall display's and the safety centre's words in Korean, Chinese (simplified) and English. Kept beside the
 * shopper page's catalogue (i18n.ts: languages, dates, country names), which these screens share.
 *
 * The recall alert is written for the stall keeper, in the market's language, as three things to do now: stop
 * selling, set the lot aside, acknowledge (the stall's system signs the acknowledgement, protocol/recall-ack.ts).
 */
import type { Lang } from "./i18n.ts";

export interface DisplayMessages {
  readonly lots: (n: number) => string;
  readonly noLots: string;
  readonly more: (n: number) => string;
  readonly origin: string;
  readonly farm: string;
  readonly harvested: string;
  readonly lab: string;
  readonly noLab: string;
  readonly labPass: string;
  readonly labFail: string;
  readonly limit: string;
  readonly customs: string;
  readonly customsCleared: string;
  readonly customsPending: string;
  readonly domestic: string;
  readonly here: string;
  readonly scan: string;
  readonly recallTitle: string;
  readonly recallLots: (n: number) => string;
  readonly recallSteps: readonly [string, string, string];
  readonly acknowledged: string;
  readonly awaitingAck: string;
  readonly reason: string;
  readonly notice: string;
  readonly verifiedCount: (verified: number, total: number) => string;
  readonly live: string;
  readonly offline: string;
  readonly page: (n: number, of: number) => string;
}

export interface CentreMessages {
  readonly title: string;
  readonly stalls: string;
  readonly stall: string;
  readonly lotsHeld: string;
  readonly imported: string;
  readonly recalled: string;
  readonly awaiting: string;
  readonly display: string;
  readonly supply: string;
  readonly supplyNote: string;
  readonly regions: string;
  readonly country: string;
  readonly region: string;
  readonly lots: string;
  readonly tests: string;
  readonly testsNote: string;
  readonly testsCount: string;
  readonly passed: string;
  readonly failed: string;
  readonly passRate: string;
  readonly phiViolations: string;
  readonly failedAnalytes: string;
  readonly latestFailed: string;
  readonly latestViolations: string;
  readonly imports: string;
  readonly cleared: string;
  readonly pending: string;
  readonly ledgerWide: string;
  readonly inMarket: string;
  readonly recalls: string;
  readonly noRecalls: string;
  readonly lot: string;
  readonly holder: string;
  readonly retail: string;
  readonly since: string;
  readonly ack: string;
  readonly records: string;
  readonly none: string;
}

export const DISPLAY: Readonly<Record<Lang, DisplayMessages>> = {
  en: {
    lots: (n) => `${n} lot${n === 1 ? "" : "s"} on sale`,
    noLots: "No lot on record at this stall right now.",
    more: (n) => `and ${n} more`,
    origin: "Origin",
    farm: "Farm",
    harvested: "Harvested",
    lab: "Lab test",
    noLab: "No lab test on record",
    labPass: "PASSED",
    labFail: "FAILED",
    limit: "limit",
    customs: "Customs",
    customsCleared: "Cleared",
    customsPending: "NOT cleared",
    domestic: "Domestic",
    here: "At this stall since",
    scan: "Scan for the full story",
    recallTitle: "RECALL: STOP SELLING",
    recallLots: (n) => `${n} lot${n === 1 ? "" : "s"} on this stall ${n === 1 ? "is" : "are"} recalled`,
    recallSteps: [
      "Stop selling it now.",
      "Set it aside, away from other food, and keep it for collection.",
      "Acknowledge the recall on the stall's system (it is recorded, signed, on the ledger).",
    ],
    acknowledged: "Acknowledged",
    awaitingAck: "Not yet acknowledged",
    reason: "Reason",
    notice: "Notice",
    verifiedCount: (v, t) => `${v} of ${t} lots verified against the blockchain`,
    live: "Live",
    offline: "Reconnecting…",
    page: (n, of) => `Page ${n} of ${of}`,
  },
  ko: {
    lots: (n) => `판매 중인 로트 ${n}개`,
    noLots: "현재 이 점포에 기록된 로트가 없습니다.",
    more: (n) => `외 ${n}개`,
    origin: "원산지",
    farm: "농장",
    harvested: "수확일",
    lab: "검사",
    noLab: "기록된 검사 없음",
    labPass: "적합",
    labFail: "부적합",
    limit: "기준",
    customs: "통관",
    customsCleared: "통관 완료",
    customsPending: "미통관",
    domestic: "국내산",
    here: "입고일",
    scan: "스캔하여 전체 이력 보기",
    recallTitle: "회수: 판매 중지",
    recallLots: (n) => `이 점포의 로트 ${n}개가 회수 대상입니다`,
    recallSteps: [
      "지금 바로 판매를 중지하세요.",
      "다른 식품과 분리하여 보관하고 수거를 기다리세요.",
      "점포 시스템에서 회수 확인을 하세요 (서명되어 원장에 기록됩니다).",
    ],
    acknowledged: "확인 완료",
    awaitingAck: "아직 확인하지 않음",
    reason: "사유",
    notice: "공고",
    verifiedCount: (v, t) => `${t}개 중 ${v}개 로트 블록체인 검증 완료`,
    live: "실시간",
    offline: "다시 연결 중…",
    page: (n, of) => `${of}쪽 중 ${n}쪽`,
  },
  zh: {
    lots: (n) => `在售批次 ${n} 个`,
    noLots: "本摊位目前没有记录在案的批次。",
    more: (n) => `另有 ${n} 个`,
    origin: "产地",
    farm: "农场",
    harvested: "采收日期",
    lab: "检测",
    noLab: "无检测记录",
    labPass: "合格",
    labFail: "不合格",
    limit: "限量",
    customs: "海关",
    customsCleared: "已通关",
    customsPending: "未通关",
    domestic: "国产",
    here: "到店日期",
    scan: "扫码查看完整溯源",
    recallTitle: "召回：立即停止销售",
    recallLots: (n) => `本摊位有 ${n} 个批次被召回`,
    recallSteps: ["立即停止销售。", "将其与其他食品分开存放，等待回收。", "在摊位系统上确认召回（签名后记入账本）。"],
    acknowledged: "已确认",
    awaitingAck: "尚未确认",
    reason: "原因",
    notice: "公告",
    verifiedCount: (v, t) => `${t} 个批次中 ${v} 个已通过区块链验证`,
    live: "实时",
    offline: "正在重新连接…",
    page: (n, of) => `第 ${n} / ${of} 页`,
  },
};

export const CENTRE: Readonly<Record<Lang, CentreMessages>> = {
  en: {
    title: "Food safety centre",
    stalls: "Stalls",
    stall: "Stall",
    lotsHeld: "Lots held",
    imported: "Imported",
    recalled: "Recalled",
    awaiting: "Awaiting acknowledgement",
    display: "Display",
    supply: "Supply by origin",
    supplyNote: "Lots arriving at the market's stalls per day, by country of origin.",
    regions: "By region",
    country: "Country",
    region: "Region",
    lots: "Lots",
    tests: "Lab tests",
    testsNote: "Every lab test on the ledger per day (lots are tested before they reach a stall).",
    testsCount: "Tests",
    passed: "Passed",
    failed: "Failed",
    passRate: "Pass rate",
    phiViolations: "Pre-harvest interval violations",
    failedAnalytes: "Failed analytes",
    latestFailed: "Latest failed tests",
    latestViolations: "Latest pre-harvest interval violations",
    imports: "Imports",
    cleared: "Customs cleared",
    pending: "Not cleared",
    ledgerWide: "Whole ledger",
    inMarket: "In this market",
    recalls: "Open recalls and their reach",
    noRecalls: "No open recall.",
    lot: "Lot",
    holder: "Holder",
    retail: "Retail",
    since: "Since",
    ack: "Acknowledged",
    records: "records",
    none: "none",
  },
  ko: {
    title: "식품안전 관제센터",
    stalls: "점포",
    stall: "점포",
    lotsHeld: "보유 로트",
    imported: "수입품",
    recalled: "회수 대상",
    awaiting: "확인 대기",
    display: "전광판",
    supply: "원산지별 입고",
    supplyNote: "시장 점포에 입고된 로트 수 (일별, 원산지 국가별).",
    regions: "지역별",
    country: "국가",
    region: "지역",
    lots: "로트",
    tests: "검사",
    testsNote: "원장의 모든 검사 (일별). 로트는 점포에 오기 전에 검사됩니다.",
    testsCount: "검사 수",
    passed: "적합",
    failed: "부적합",
    passRate: "적합률",
    phiViolations: "수확 전 안전사용기간 위반",
    failedAnalytes: "부적합 항목",
    latestFailed: "최근 부적합 검사",
    latestViolations: "최근 안전사용기간 위반",
    imports: "수입품",
    cleared: "통관 완료",
    pending: "미통관",
    ledgerWide: "원장 전체",
    inMarket: "이 시장",
    recalls: "진행 중인 회수와 그 범위",
    noRecalls: "진행 중인 회수가 없습니다.",
    lot: "로트",
    holder: "보유자",
    retail: "소매",
    since: "보유 시작",
    ack: "확인",
    records: "기록",
    none: "없음",
  },
  zh: {
    title: "食品安全中心",
    stalls: "摊位",
    stall: "摊位",
    lotsHeld: "持有批次",
    imported: "进口",
    recalled: "被召回",
    awaiting: "待确认",
    display: "显示屏",
    supply: "按产地的供应",
    supplyNote: "每天到达本市场摊位的批次，按原产国。",
    regions: "按地区",
    country: "国家",
    region: "地区",
    lots: "批次",
    tests: "检测",
    testsNote: "账本上每天的所有检测（批次在到达摊位之前检测）。",
    testsCount: "检测数",
    passed: "合格",
    failed: "不合格",
    passRate: "合格率",
    phiViolations: "违反采收前安全间隔期",
    failedAnalytes: "不合格项目",
    latestFailed: "最近的不合格检测",
    latestViolations: "最近的安全间隔期违规",
    imports: "进口",
    cleared: "已通关",
    pending: "未通关",
    ledgerWide: "整个账本",
    inMarket: "本市场",
    recalls: "进行中的召回及其范围",
    noRecalls: "没有进行中的召回。",
    lot: "批次",
    holder: "持有人",
    retail: "零售",
    since: "持有自",
    ack: "已确认",
    records: "记录",
    none: "无",
  },
};
