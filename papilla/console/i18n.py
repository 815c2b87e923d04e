"""Label catalogues of the consoles: English, Russian, Kazakh. Labels only: refusals keep the sentence and the
citation the domain code gives (the rule's citation is the same in every language).

Every catalogue has the same keys (tests/console/test_console_pages.py checks it); `label` falls back to
English so a missing key shows a word, never a blank."""
from __future__ import annotations

LANGUAGES = {"en": "English", "ru": "Русский", "kk": "Қазақша"}

EN = {
    "app_station": "Papilla branch station", "app_centre": "Papilla processing centre",
    "skip": "Skip to content", "language": "Language", "apply": "Apply",
    "sign_in": "Sign in", "sign_out": "Sign out", "principal_id": "Your principal id",
    "sign_in_help": "Your signing key is kept on this machine; signing in proves the console holds it.",
    "signed_in_as": "Signed in as", "role": "Role",
    "nav_enroll": "Enrollment", "nav_spool": "Spool", "nav_applications": "Applications",
    "nav_queue": "Adjudication", "nav_acts": "Acts of destruction", "nav_audit": "Audit", "nav_dashboards": "Dashboards",
    "step_identity": "1. Identity by document", "step_decision": "2. Legal decision",
    "step_consent": "3. Consent (Annex to Rules 406)", "step_capture": "4. Ten-finger capture", "step_receipt": "5. Receipt",
    "iin": "IIN", "full_name": "Full name", "document_type": "Document type", "document_number": "Document number",
    "document_birth_date": "Date of birth on the document", "basis": "Legal basis", "citizenship": "Citizenship",
    "capacity": "Legal capacity", "check": "Check", "continue": "Continue", "iin_valid": "valid IIN, date of birth",
    "iin_invalid": "not a valid IIN", "allowed": "Allowed", "refused": "Refused", "rule": "Rule", "citation": "Citation",
    "consent_ref": "Reference of the signed form", "consent_signed_on": "Date of consent on the form",
    "conditions_explained": "I explained the conditions and grounds of use", "signed_by": "Signed by",
    "consent_not_needed": "No consent form for this basis", "start_capture": "Start capture",
    "scan_source": "Scanner", "finger": "Finger", "quality": "Quality", "gate": "gate", "captures": "captures",
    "waiting": "waiting", "below_gate": "below the gate", "captured": "captured",
    "choice_needed": "A finger stayed below the quality gate", "retake": "Retake", "exception": "Exception",
    "abort": "Abort", "reason": "Reason", "send": "Send",
    "unable_to_print": "no pattern / unable to print", "injured": "injured", "amputated": "amputated",
    "packet": "Packet", "sent": "sent to the centre", "spooled": "spooled: waits for the broker",
    "centre_decision": "Centre's decision", "awaiting_decision": "awaiting the centre's decision",
    "new_enrollment": "New enrollment", "packets_waiting": "packets waiting", "oldest": "oldest",
    "last_error": "last send error", "flush": "Send spooled packets now", "none": "none",
    "application": "Application", "destroy": "Destruction of the data", "withdraw_consent": "Withdrawal of consent",
    "access_request": "Subject access request", "block_on_demand": "Block on the subject's demand",
    "on_application_of": "On the written application of", "not_available": "not available on this station yet", "not_installed": "not installed in this version",
    "service_needed": "Applications travel as signed requests through the branch's service identity",
    "queue_empty": "No enrollment awaits adjudication", "enrollment": "Enrollment", "candidate": "Candidate",
    "candidates": "candidates", "fused_score": "Fused score", "threshold": "threshold", "finger_score": "score",
    "open": "Open", "decision": "Decision", "same_person": "Same person (reject the new record)",
    "different_people": "Different people (activate the new record)", "sign_decision": "Sign the decision",
    "paired_minutiae": "Paired minutiae", "status_not_checked": "The centre has not confirmed this station and operator (a packet captured now waits in the spool and is checked on arrival)", "incomplete_searches": "1:N searches not completed", "incomplete_help": "Part of the gallery did not answer in every attempt: a partial candidate list is never taken for no duplicate, so these enrollments wait undecided. An operator redrives each one when the gallery is whole again.", "dead_letter": "Dead letter", "pair_counted": "pairs the score counts", "pair_preselected": "pre-selected only", "minutiae": "minutiae", "state": "State",
    "act": "Act", "items": "records", "signatures": "Signatures", "approve": "Approve (head of unit)",
    "countersign": "Countersign (second person)", "no_acts": "No act awaits signatures",
    "audit_verify": "Verify the audit trail", "trail_ok": "The trail verifies", "trail_problems": "Problems found",
    "entries": "entries", "trail_by_subject": "Trail of a subject", "pseudonym": "Subject pseudonym (sub-…) or IIN",
    "show": "Show", "refused_attempts": "Refused attempts", "dead_letters": "Dead letters",
    "dashboards": "Prometheus dashboards", "forbidden": "Not permitted", "expired": "Your session expired: sign in again",
    "error": "Error", "back": "Back",
}

RU = {
    "app_station": "Papilla: станция филиала", "app_centre": "Papilla: центр обработки",
    "skip": "Перейти к содержимому", "language": "Язык", "apply": "Применить",
    "sign_in": "Войти", "sign_out": "Выйти", "principal_id": "Ваш идентификатор",
    "sign_in_help": "Ваш ключ подписи хранится на этом компьютере; вход подтверждает, что консоль им владеет.",
    "signed_in_as": "Вход выполнен:", "role": "Роль",
    "nav_enroll": "Регистрация", "nav_spool": "Очередь отправки", "nav_applications": "Заявления",
    "nav_queue": "Экспертиза дубликатов", "nav_acts": "Акты уничтожения", "nav_audit": "Аудит", "nav_dashboards": "Панели",
    "step_identity": "1. Личность по документу", "step_decision": "2. Правовое решение",
    "step_consent": "3. Согласие (приложение к Правилам 406)", "step_capture": "4. Снятие десяти пальцев",
    "step_receipt": "5. Квитанция",
    "iin": "ИИН", "full_name": "Ф. И. О.", "document_type": "Тип документа", "document_number": "Номер документа",
    "document_birth_date": "Дата рождения в документе", "basis": "Правовое основание", "citizenship": "Гражданство",
    "capacity": "Дееспособность", "check": "Проверить", "continue": "Далее", "iin_valid": "ИИН верен, дата рождения",
    "iin_invalid": "ИИН неверен", "allowed": "Разрешено", "refused": "Отказано", "rule": "Правило",
    "citation": "Ссылка", "consent_ref": "Номер подписанного бланка", "consent_signed_on": "Дата согласия на бланке",
    "conditions_explained": "Я разъяснил(а) условия и основания использования", "signed_by": "Подписал(а)",
    "consent_not_needed": "Для этого основания бланк согласия не нужен", "start_capture": "Начать снятие",
    "scan_source": "Сканер", "finger": "Палец", "quality": "Качество", "gate": "порог", "captures": "снимков",
    "waiting": "ожидание", "below_gate": "ниже порога", "captured": "снят",
    "choice_needed": "Палец остался ниже порога качества", "retake": "Переснять", "exception": "Исключение",
    "abort": "Прервать", "reason": "Причина", "send": "Отправить",
    "unable_to_print": "нет узора / не отпечатывается", "injured": "травма", "amputated": "ампутирован",
    "packet": "Пакет", "sent": "отправлен в центр", "spooled": "в очереди: ждёт брокер",
    "centre_decision": "Решение центра", "awaiting_decision": "ожидается решение центра",
    "new_enrollment": "Новая регистрация", "packets_waiting": "пакетов ждут", "oldest": "самый старый",
    "last_error": "последняя ошибка отправки", "flush": "Отправить пакеты сейчас", "none": "нет",
    "application": "Заявление", "destroy": "Уничтожение данных", "withdraw_consent": "Отзыв согласия",
    "access_request": "Запрос субъекта о доступе", "block_on_demand": "Блокирование по требованию субъекта",
    "on_application_of": "По письменному заявлению", "not_available": "пока недоступно на этой станции", "not_installed": "не установлено в этой версии",
    "service_needed": "Заявления отправляются подписанными запросами через служебную учётную запись филиала",
    "queue_empty": "Нет регистраций, ожидающих экспертизы", "enrollment": "Регистрация", "candidate": "Кандидат",
    "candidates": "кандидатов", "fused_score": "Итоговая оценка", "threshold": "порог", "finger_score": "оценка",
    "open": "Открыть", "decision": "Решение", "same_person": "Один и тот же человек (отклонить новую запись)",
    "different_people": "Разные люди (активировать новую запись)", "sign_decision": "Подписать решение",
    "paired_minutiae": "Парные минуции", "status_not_checked": "Центр не подтвердил эту станцию и оператора (пакет, снятый сейчас, ждёт в очереди станции и проверяется при поступлении)", "incomplete_searches": "Незавершённые поиски 1:N", "incomplete_help": "Часть галереи не ответила ни в одной попытке: неполный список кандидатов никогда не считается отсутствием дубликата, поэтому эти регистрации ждут решения. Оператор повторно запускает каждую, когда галерея снова полная.", "dead_letter": "Недоставленное сообщение", "pair_counted": "пары, учтённые в оценке", "pair_preselected": "только предварительно отобранные", "minutiae": "минуций", "state": "Состояние",
    "act": "Акт", "items": "записей", "signatures": "Подписи", "approve": "Утвердить (руководитель)",
    "countersign": "Скрепить (второе лицо)", "no_acts": "Нет актов, ожидающих подписи",
    "audit_verify": "Проверить журнал аудита", "trail_ok": "Журнал проверен", "trail_problems": "Найдены нарушения",
    "entries": "записей", "trail_by_subject": "Журнал по субъекту", "pseudonym": "Псевдоним субъекта (sub-…) или ИИН",
    "show": "Показать", "refused_attempts": "Отклонённые попытки", "dead_letters": "Недоставленные сообщения",
    "dashboards": "Панели Prometheus", "forbidden": "Не разрешено", "expired": "Сеанс истёк: войдите снова",
    "error": "Ошибка", "back": "Назад",
}

KK = {
    "app_station": "Papilla: филиал станциясы", "app_centre": "Papilla: өңдеу орталығы",
    "skip": "Мазмұнға өту", "language": "Тіл", "apply": "Қолдану",
    "sign_in": "Кіру", "sign_out": "Шығу", "principal_id": "Сіздің сәйкестендіргішіңіз",
    "sign_in_help": "Қол қою кілтіңіз осы компьютерде сақталады; кіру консольдің оны ұстайтынын дәлелдейді.",
    "signed_in_as": "Кірген:", "role": "Рөл",
    "nav_enroll": "Тіркеу", "nav_spool": "Жіберу кезегі", "nav_applications": "Өтініштер",
    "nav_queue": "Телнұсқаларды сараптау", "nav_acts": "Жою актілері", "nav_audit": "Аудит", "nav_dashboards": "Тақталар",
    "step_identity": "1. Құжат бойынша жеке басы", "step_decision": "2. Құқықтық шешім",
    "step_consent": "3. Келісім (406 Қағидаларына қосымша)", "step_capture": "4. Он саусақты алу",
    "step_receipt": "5. Түбіртек",
    "iin": "ЖСН", "full_name": "Т. А. Ә.", "document_type": "Құжат түрі", "document_number": "Құжат нөмірі",
    "document_birth_date": "Құжаттағы туған күні", "basis": "Құқықтық негіз", "citizenship": "Азаматтығы",
    "capacity": "Әрекет қабілеттілігі", "check": "Тексеру", "continue": "Әрі қарай",
    "iin_valid": "ЖСН дұрыс, туған күні", "iin_invalid": "ЖСН дұрыс емес", "allowed": "Рұқсат етілді",
    "refused": "Бас тартылды", "rule": "Ереже", "citation": "Сілтеме",
    "consent_ref": "Қол қойылған бланктің нөмірі", "consent_signed_on": "Бланктағы келісім күні",
    "conditions_explained": "Пайдалану шарттары мен негіздерін түсіндірдім", "signed_by": "Қол қойған",
    "consent_not_needed": "Бұл негіз үшін келісім бланкі қажет емес", "start_capture": "Алуды бастау",
    "scan_source": "Сканер", "finger": "Саусақ", "quality": "Сапа", "gate": "шек", "captures": "сурет",
    "waiting": "күту", "below_gate": "шектен төмен", "captured": "алынды",
    "choice_needed": "Саусақ сапа шегінен төмен қалды", "retake": "Қайта алу", "exception": "Ерекшелік",
    "abort": "Тоқтату", "reason": "Себебі", "send": "Жіберу",
    "unable_to_print": "өрнегі жоқ / таңбаланбайды", "injured": "жарақат", "amputated": "ампутацияланған",
    "packet": "Пакет", "sent": "орталыққа жіберілді", "spooled": "кезекте: брокерді күтеді",
    "centre_decision": "Орталықтың шешімі", "awaiting_decision": "орталықтың шешімі күтілуде",
    "new_enrollment": "Жаңа тіркеу", "packets_waiting": "пакет күтуде", "oldest": "ең ескісі",
    "last_error": "соңғы жіберу қатесі", "flush": "Пакеттерді қазір жіберу", "none": "жоқ",
    "application": "Өтініш", "destroy": "Деректерді жою", "withdraw_consent": "Келісімді кері қайтарып алу",
    "access_request": "Субъектінің қолжетімділік сұрауы", "block_on_demand": "Субъектінің талабы бойынша бұғаттау",
    "on_application_of": "Жазбаша өтініші бойынша", "not_available": "бұл станцияда әзірге қолжетімсіз", "not_installed": "бұл нұсқада орнатылмаған",
    "service_needed": "Өтініштер филиалдың қызметтік тіркелгісі арқылы қол қойылған сұрау ретінде жіберіледі",
    "queue_empty": "Сараптауды күтіп тұрған тіркеу жоқ", "enrollment": "Тіркеу", "candidate": "Үміткер",
    "candidates": "үміткер", "fused_score": "Қорытынды баға", "threshold": "шек", "finger_score": "баға",
    "open": "Ашу", "decision": "Шешім", "same_person": "Бір адам (жаңа жазбаны қабылдамау)",
    "different_people": "Әртүрлі адамдар (жаңа жазбаны белсендіру)", "sign_decision": "Шешімге қол қою",
    "paired_minutiae": "Жұпталған минуциялар", "status_not_checked": "Орталық бұл станция мен операторды растаған жоқ (қазір алынған пакет станция кезегінде күтеді және келгенде тексеріледі)", "incomplete_searches": "Аяқталмаған 1:N іздеулер", "incomplete_help": "Галереяның бір бөлігі ешбір әрекетте жауап бермеді: толық емес үміткерлер тізімі ешқашан телнұсқаның жоқтығы деп саналмайды, сондықтан бұл тіркеулер шешімсіз күтеді. Галерея қайта толық болғанда оператор әрқайсысын қайта іске қосады.", "dead_letter": "Жеткізілмеген хабар", "pair_counted": "бағалауға кірген жұптар", "pair_preselected": "тек алдын ала іріктелген", "minutiae": "минуция", "state": "Күйі",
    "act": "Акт", "items": "жазба", "signatures": "Қолдар", "approve": "Бекіту (бөлім басшысы)",
    "countersign": "Қосымша қол қою (екінші тұлға)", "no_acts": "Қол қоюды күтіп тұрған акт жоқ",
    "audit_verify": "Аудит журналын тексеру", "trail_ok": "Журнал тексерілді", "trail_problems": "Бұзушылықтар табылды",
    "entries": "жазба", "trail_by_subject": "Субъект бойынша журнал", "pseudonym": "Субъект бүркеншік аты (sub-…) немесе ЖСН",
    "show": "Көрсету", "refused_attempts": "Қабылданбаған әрекеттер", "dead_letters": "Жеткізілмеген хабарлар",
    "dashboards": "Prometheus тақталары", "forbidden": "Рұқсат етілмейді", "expired": "Сеанс аяқталды: қайта кіріңіз",
    "error": "Қате", "back": "Артқа",
}

CATALOGUES = {"en": EN, "ru": RU, "kk": KK}


def label(key: str, lang: str = "en") -> str:
    return CATALOGUES.get(lang, EN).get(key) or EN.get(key, key)


def language_of(value: str | None, accept_language: str | None = None) -> str:
    """A supported language code: the one asked for, else the browser's first supported one, else English."""
    if value in CATALOGUES:
        return value
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in CATALOGUES:
            return code
    return "en"
