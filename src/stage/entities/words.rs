//! Closed word lists used by the rules. Written by hand; general English news vocabulary.

/// Person titles and roles. When one of these (capitalised) stands before a name it is a
/// person cue and is not part of the name ("Vice Premier He Lifeng" -> "He Lifeng").
pub const TITLES: &str = "president vice premier prime minister secretary chancellor senator sen \
    governor gov representative rep congressman congresswoman ambassador general gen chairman \
    chairwoman chair ceo cfo coo cto director judge justice mayor king queen prince princess pope \
    bishop archbishop cardinal reverend rev professor prof dr doctor mr mrs ms miss \
    mx sir dame lord lady captain capt coach commissioner spokesman spokeswoman spokesperson chief \
    prosecutor attorney sheriff lieutenant lt colonel col sergeant sgt admiral inspector detective \
    emeritus deputy assistant undersecretary administrator envoy leader speaker officer commander marshal \
    corporal trooper agent dean rabbi imam ayatollah sheikh emir sultan \
    duke duchess count countess baron baroness presidential candidate founder executive \
    minister-president vice-president vice-premier premier-elect president-elect superintendent \
    trustee treasurer comptroller counsel solicitor barrister magistrate lawmaker mp mep \
    analyst actor actress singer rapper striker midfielder defender goalkeeper \
    manager";

/// Subject-area words that appear between a role and a name ("Commerce Secretary",
/// "Secretary of State Mike Pompeo", "Trade Representative"). Never a name by themselves.
pub const ROLE_DOMAINS: &str = "state defense defence foreign affairs commerce trade finance health \
    justice interior energy education agriculture labor labour transport transportation treasury \
    homeland security home economic economy culture environment industry information science \
    technology research development housing veterans army navy air force police national federal \
    general attorney public works social welfare human services women children sports tourism \
    water resources mines minerals petroleum oil communications digital internal external \
    immigration customs intelligence cabinet executive operating financial technical chief senior \
    junior first second former acting deputy vice assistant under permanent special high top \
    supreme international regional provincial county city district state's";

/// Words that end organization names ("Ministry", "Inc", "University").
pub const ORG_SUFFIX: &str = "inc inc. corp corp. corporation co co. company companies ltd ltd. llc \
    plc ag sa gmbh nv bv group holdings holding partners capital ventures fund funds trust \
    bank bancorp insurance securities investments financial motors motor airlines airways air \
    technologies technology systems software labs laboratories pharmaceuticals pharma energy \
    oil petroleum mining steel telecom communications networks network media studios studio \
    pictures records entertainment games publishing press news times post journal herald \
    tribune gazette telegraph chronicle daily weekly magazine review broadcasting radio tv \
    television channel university college institute school academy polytechnic seminary \
    ministry department commission committee council agency authority board bureau office \
    administration service services court tribunal parliament congress senate assembly \
    cabinet government army navy force forces police guard corps brigade regiment battalion \
    militia fleet association federation union unions league alliance coalition party \
    movement front organization organisation society foundation institution club fc cf afc \
    united team squad orchestra band choir church diocese order trust \
    hospital clinic council commission bar exchange reserve authority \
    consortium cooperative co-op network project initiative programme program lab \
    logistics freight shipping cargo express airline lines foods food beverages brands retail \
    stores supermarkets industries enterprises solutions robotics biotech \
    therapeutics biosciences semiconductor semiconductors electronics chemicals materials \
    utilities telecoms wire wires survey observatory directorate secretariat inspectorate \
    brothers bros associates consulting advisors advisers";

/// Compass and position words that, with an unknown name, make a region ("North Darfur",
/// "Rukum West", "Upper Nile").
pub const COMPASS: &str = "north south east west northern southern eastern western central \
    upper lower northeast northwest southeast southwest north-east north-west south-east \
    south-west";

/// Lower-case nouns that, right before a name or in an apposition after it, mark an
/// organization ("the EU border agency Frontex", "Nordlys Energi, the Danish developer").
pub const ORG_NOUNS: &str = "agency company firm group organization organisation regulator \
    watchdog bank lender insurer carrier airline operator developer maker manufacturer \
    producer retailer broadcaster newspaper publisher party union charity ministry startup \
    start-up consortium conglomerate subsidiary office authority body parliament exchange \
    automaker carmaker chipmaker miner utility brokerage broker outlet network insurer \
    institute university council commission committee militia movement coalition \
    alliance association federation club team league band";

/// Lower-case nouns that, before "of" + an unknown name, make it a place ("the island of
/// Heligoland", "the Stockholm suburb of Solna").
pub const PLACE_OF: &str = "island islands city town village suburb province region state \
    district county port municipality prefecture commune enclave outskirts neighbourhood \
    neighborhood area republic kingdom emirate";

/// Upper-case abbreviations that are not named entities ("AI", "CEO", "GDP", "EV").
pub const NOT_ACRONYMS: &str = "ai ceo cfo coo cto cio gdp gnp gni ev evs ipo ipos cpi pmi vat \
    tv pc pcs dna rna hiv usb led lcd lng lpg ngo ngos pr hr vip vips faq faqs id ids q&a phd \
    mba suv suvs gps api apis url urls html xml pdf iq pov ok am pm fm ad bc ce bce ppe \
    icu er mri ceos esg etf etfs m&a r&d diy asap fyi lol omg tbd eta rsvp dj mc ufo ufos \
    gmo gmos co2 ghg ac dc ai's ceo's covid sms mp3 4g 5g wifi vr ar crm saas b2b";

/// Words that end place names ("Lancaster House", "Hudson River").
pub const LOC_SUFFIX: &str = "street st road rd avenue ave boulevard blvd lane drive square \
    plaza place river rivers mountain mountains mount hill hills lake lakes island islands isle \
    sea ocean bay gulf strait channel valley canyon desert forest park gardens garden county \
    province state region district prefecture territory city town village township borough \
    parish airport port harbour harbor palace house hall tower towers stadium arena field \
    cathedral temple castle station bridge beach coast peninsula falls heights springs \
    highway freeway motorway plains basin reef volcano glacier pass canal dam building \
    memorial monument museum gallery abbey centre center chapel fort citadel quarter republic kingdom emirate oblast";

/// Words that head organization names when followed by "of" ("University of Sheffield").
pub const OF_HEADS: &str = "gallery university college institute school academy ministry department bank \
    church museum council commission committee board office court chamber federation \
    association union league society republic kingdom gulf bay strait isle sea cape duke \
    prince princess bureau agency centre center corporation company fund foundation trust \
    authority army congress parliament city state plains battle treaty declaration act bill \
    order house hall sisters brothers friends party organization organisation alliance \
    people's peoples confederation government province region county district islands \
    lake mount river straits coast day festival conference summit convention";

/// Words that make a name an event ("World Cup", "Climate Summit").
pub const EVENT_SUFFIX: &str = "summit olympics games cup championship championships \
    tournament festival conference convention expo fair war revolution election elections \
    marathon open grand prix prize awards award ceremony congress forum week crisis massacre \
    attack attacks protests uprising";

/// Lower-case connectors that may stand inside a personal name ("Ahmed bin Salman").
pub const PARTICLES: &str = "de da di du del della der den van von bin ibn al el la le dos das ter \
    zu y bint ben abu";

/// Abbreviations that do not end a sentence.
pub const ABBREV: &str = "mr mrs ms dr prof st mt ft jr sr inc co corp ltd gen col lt sgt capt \
    gov sen rep rev no vs etc jan feb mar apr jun jul aug sep sept oct nov dec u.s a.m p.m";

/// Capitalised words that are never names by themselves in news text.
pub const NEVER: &str = "monday tuesday wednesday thursday friday saturday sunday january february \
    march april may june july august september october november december i i'm i've i'd i'll \
    am pm a.m. p.m. ok okay mon tue wed thu fri sat sun jan feb mar apr jun jul aug sep sept oct \
    nov dec today yesterday tomorrow image photo video file update updated note editor source \
    sources copyright am pm et gmt utc est pst bst cet";

/// Frequent English words. A capitalised one at the start of a sentence or in a title-case
/// headline is not a name unless the document also writes it capitalised mid-sentence.
pub const COMMON: &str = "a an the this that these those there here then than thus so and or but \
    nor yet for of in on at to from by with without within into onto upon over under about \
    above below after before since until while during through throughout across against among \
    between beyond toward towards despite although though because if unless whether when where \
    which who whom whose what why how all any both each every few many more most much no none \
    not only other others some such own same very just also even still already again ever never \
    always often sometimes now soon later early meanwhile however moreover furthermore \
    nevertheless instead indeed perhaps maybe yes it its it's he she they we you i me him her \
    them us our your their his hers my mine ours yours theirs one two three four five six seven \
    eight nine ten first second third last next new old key high low top big small large great \
    good bad best worst major minor local global world national international public private \
    official officials government police report reports according said says say told asked \
    added while analysts experts critics officials people children women men students \
    residents workers members leaders lawmakers investors traders shares stocks prices markets \
    market trade talks deal deals war peace crisis plan plans law laws bill court case news \
    story breaking live watch read opinion analysis editorial exclusive update updates photos \
    video watch outlook focus review preview interview q&a faq more less following other many \
    several various overall another despite amid as like unlike near next let lets let's do does \
    did don't doesn't didn't is are was were be been being have has had having will would shall \
    should can could may might must need needs get gets got make makes made take takes took go \
    goes went come comes came see sees saw know knows knew think thinks thought want wants wanted \
    look looks looked use uses used find finds found give gives gave tell tells work works worked \
    call calls called try tries tried ask asks feel feels felt leave leaves left put puts keep \
    keeps kept begin begins began seem seems seemed help helps show shows showed hear hears heard \
    play plays played run runs ran move moves moved live lives lived believe believes brought \
    happen happened write wrote provide provides sit stand lose lost pay paid meet met include \
    includes including continue continues set learn change lead leads led understand watch \
    follow follows stop create speak read allow add spend grow open opens opened walk win wins won \
    offer remember love consider appear buy wait serve die send expect build stay fall cut reach \
    kill remain suggest raise pass sell require decide return explain hope develop carry break \
    receive agree support hit produce eat cover catch draw choose cause point listen realize \
    place close involve increase rise rises fell falls drop drops surge surges slump slumps jump \
    climb climbs warns warn urges urge calls vows vow slams hails backs eyes faces face sets \
    hits seeks seek plans plan sources source despite inside outside behind ahead around along \
    once twice yet though why what whatever whoever wherever whenever unless upon per via \
    dear hello hi thanks thank please sorry well oh yes no not none nothing something anything \
    everything someone anyone everyone somebody nobody everybody here there where today tonight \
    today's this week weekend month year years day days time times hour hours minute minutes";

/// Words around a name in sports copy ("beat Leeds", "Leverkusen coach", "scored for").
pub const SPORT_CUES: &str = "beat beats beaten defeated defeat defeats drew draw draws held \
    host hosts hosted visit visits visited visitors play plays played against versus vs v \
    win wins won lose loses lost thrash thrashed edge edged edges rout routed stun stunned \
    coach manager striker midfielder defender goalkeeper forward captain winger skipper \
    scored score scores goal goals try tries wickets innings points rebounds assists \
    league cup season match matches fixture fixtures game games title champions \
    relegation promoted relegated standings table clash derby side squad club team fans \
    signed sign signs transfer loan joined leaders";

/// Words around a name in market and company copy ("shares of", "Nasdaq-listed").
pub const MARKET_CUES: &str = "shares share stock stocks index indexes indices futures \
    percent pct points rose rise rises fell fall falls gained gain gains lost slipped slid \
    climbed jumped dropped traded trading listed exchange investors analysts earnings \
    profit profits revenue revenues sales quarter quarterly outlook forecast guidance \
    dividend buyback acquire acquired acquisition merger deal stake bid takeover ipo \
    maker firm company group lender bank insurer carrier chipmaker automaker brokerage \
    subsidiary unit rival rivals peer peers chief executive ceo cfo chairman";

/// Speech verbs and "who" after a name: a person cue.
pub const SAID: &str = "said says told added explained wrote argued noted stated announced \
    insisted claimed replied asked admitted warned urged confirmed denied believes thinks who \
    whose declared tweeted commented testified";

/// Prepositions before a place ("in Darfur", "near Aleppo").
pub const LOC_PREP: &str = "in near outside inside across throughout around towards toward via \
    into within from at";

/// Nouns for people: an apposition with one describes a person, not an organization.
pub const PERSON_NOUNS: &str = "official officials spokesman spokeswoman spokesperson head \
    member members employee employees worker workers boss chief executive founder director \
    manager analyst economist lawyer adviser advisor researcher shareholders investors \
    customers staff executives";

/// Determiners and possessives before a name.
pub const DETERMINERS: &str = "the a an this that these those our my his her their its";

/// Lower-case words glued by a hyphen after a name that are not part of it
/// ("Georgia-based", "Kremlin-backed"); other glued parts are ("Wong Kwok-kin").
pub const HYPHEN_STOP: &str = "based led born owned backed made style like era wide bound \
    linked related run funded type class level area friendly free focused oriented \
    controlled sponsored born-and-raised listed headquartered affiliated aligned allied \
    inspired themed centric specific only";
