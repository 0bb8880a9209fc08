/** Response shapes the tests read, as the schema defines them. */
export interface UserErrorShape {
  code: string;
  message: string;
  field: string[] | null;
}

export interface HistoryShape {
  type: string;
  status: string | null;
  message: string | null;
}

export interface ApplicationShape {
  id: string;
  appId: string;
  status: string;
  errcode: number | null;
  errmsg: string | null;
  attempts: number;
  createdAt: string;
  updatedAt: string;
  cursor?: string | null;
  history?: HistoryShape[];
}

export interface PayloadShape {
  application: ApplicationShape | null;
  userErrors: UserErrorShape[];
}

export interface ConnectionShape<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage?: boolean; startCursor?: string | null; endCursor: string | null };
}

export const APPLICATION_FIELDS = 'id appId status errcode errmsg attempts createdAt updatedAt';
