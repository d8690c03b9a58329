/**
 * Stop words for the extractive notes: function words, fillers and the commonest verbs, which carry
 * no topic. Lowercase, apostrophes as `'`. English and Spanish; other languages use both lists.
 */

const en = `a about above after again against all almost also although always am an and another any anyone anything are
aren't around as at away back be became because been before being below between both but by came can can't cannot come
could couldn't did didn't do does doesn't doing don't done down during each either else enough even ever every everything
few for from further get gets getting go goes going gone got gotta had hadn't has hasn't have haven't having he he'd he'll
he's her here here's hers herself him himself his how how's however i i'd i'll i'm i've if in into is isn't it it's its
itself just kind know let let's like made make makes many may maybe me might mine more most much must my myself need needs
never no nor not nothing now of off often oh ok okay on once one only onto or other others our ours ourselves out over own
per perhaps pretty quite rather really right said same say says see seem seems shall she she'd she'll she's should shouldn't
since so some something sometimes somewhat still such sure take than that that's the their theirs them themselves then there
there's therefore these they they'd they'll they're they've thing things think this those though through thus till to too
took toward towards uh um under until up upon us very via want wants was wasn't way we we'd we'll we're we've well went were
weren't what what's whatever when where where's whether which while who who's whom whose why will with within without won't
would wouldn't yeah yes yet you you'd you'll you're you've your yours yourself yourselves today tomorrow yesterday tonight
gonna wanna actually basically anyway lot lots bit stuff`;

const es = `a al algo algunas algunos ante antes aquel aquella aquellas aquellos aqui aquí así asi aún aun bien cada casi como cómo
con contra cual cuál cuales cuando cuándo cuanto de del desde donde dónde dos e el él ella ellas ello ellos en entonces entre era
eran eres es esa esas ese eso esos esta está estaba estaban estamos están estar estas este esto estos estoy fue fueron fui ha
había habían han has hasta hay he hemos hice hizo hoy ayer mañana la las le les lo los más mas me mi mí mía mías mío míos mis
mismo misma mucho muchos muchas muy nada ni no nos nosotros nosotras nuestra nuestras nuestro nuestros o os otra otras otro
otros para pero poco por porque pues que qué quien quién quienes se sea ser si sí sido siempre sin sobre solo sólo son soy su
sus también tampoco tan tanto te tener tengo tenía tiene tienen ti todo todos toda todas tu tú tus un una unas uno unos usted
ustedes va vamos van voy vez veces y ya yo eh este bueno pues vale o sea hacer hace hecho puede pueden poder decir dijo dice
ir ahí allí ahora luego además cierto dado según mientras donde cual cuales aunque tal tales demás`;

const words = (list: string) => new Set(list.split(/\s+/).filter((w) => w !== ''));

export const stopWords: Record<string, ReadonlySet<string>> = { en: words(en), es: words(es) };
const both = new Set([...stopWords.en!, ...stopWords.es!]);

/** The stop words for `language`; both lists when it has none of its own. */
export function stopWordsFor(language: string): ReadonlySet<string> {
  return stopWords[language] ?? both;
}
