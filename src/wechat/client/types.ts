/** Results of the typed WeChat calls, in our naming; every result carries the call's latency. */

export interface Timed {
  latencyMs: number;
}

export interface ComponentToken extends Timed {
  componentAccessToken: string;
  expiresIn: number;
}

export interface PreAuthCode extends Timed {
  preAuthCode: string;
  expiresIn: number;
}

export interface AuthorizerToken extends Timed {
  authorizerAccessToken: string;
  expiresIn: number;
  /** WeChat may answer a new refresh token; the caller stores it when it changed. */
  authorizerRefreshToken: string | null;
}

export interface AuthorizationInfo extends Timed {
  authorizerAppId: string;
  authorizerAccessToken: string;
  expiresIn: number;
  authorizerRefreshToken: string;
  /** Granted permission sets (`func_info[].funcscope_category.id`); live needs 52. */
  permissionSets: number[];
}

export interface AuthorizerInfo extends Timed {
  authorizerAppId: string;
  nickName: string | null;
  /** The `gh_...` original id; pushes name it as ToUserName. */
  userName: string | null;
  principalName: string | null;
  permissionSets: number[];
}

/**
 * applyliveinfo's business results. Errcode 0 (accepted: the admin has 24 h) and errcode 2 (no
 * payment in the last 90 days) are outcomes of a correct call, so they are returned; every other
 * errcode and every transport failure is thrown as a WechatError carrying its class.
 */
export interface ApplyLiveResult extends Timed {
  outcome: 'SUBMITTED' | 'NOT_PAID';
  errcode: 0 | 2;
  errmsg: string;
}

export interface ApiQuota extends Timed {
  dailyLimit: number;
  used: number;
  remain: number;
}
